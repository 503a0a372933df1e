// A latency-by-percentile plot written as a standalone SVG, in the HdrHistogram style: the x axis
// is log10(1 / (1 - percentile)) so 90%, 99%, 99.9%, 99.99% are evenly spaced and the tail gets the
// room; the y axis is log-scaled milliseconds, with the 10 ms p99 target drawn across. No plotting
// dependency: a few dozen lines of SVG are easier to trust than a charting library.
import type * as hdr from 'hdr-histogram-js';
import { assert } from '../../src/errors';

export interface PlotSeries {
  label: string;
  histogram: hdr.Histogram;
  dashed?: boolean;
}

export interface PlotOptions {
  title: string;
  /** Horizontal reference line, e.g. the p99 target. */
  targetMs?: number;
}

const width = 760;
const height = 420;
const margin = { left: 70, right: 200, top: 40, bottom: 50 };
const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const xDecadesMax = 5; // up to 99.999%

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** (x decades, latency ms) points along the percentile spectrum, only as far as the data reaches. */
export function percentilePoints(h: hdr.Histogram): [number, number][] {
  const out: [number, number][] = [];
  if (h.totalCount === 0) return out;
  const reach = Math.min(xDecadesMax, Math.log10(h.totalCount));
  for (let x = 0; x <= reach + 1e-9; x += 0.05) {
    const percentile = 100 * (1 - Math.pow(10, -x));
    out.push([x, h.getValueAtPercentile(percentile) / 1000]);
  }
  out.push([reach, h.maxValue / 1000]);
  return out;
}

export function renderPercentileSvg(series: PlotSeries[], opts: PlotOptions): string {
  assert(series.length > 0 && series.length <= colors.length, 'a plot needs 1..8 series');
  const all = series.map((s) => ({ ...s, points: percentilePoints(s.histogram) }));
  const values = all.flatMap((s) => s.points.map((p) => p[1]));
  if (opts.targetMs !== undefined) values.push(opts.targetMs);
  const yMinMs = Math.pow(10, Math.floor(Math.log10(Math.max(0.001, Math.min(...values, 1)))));
  const yMaxMs = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, yMinMs * 10))));
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sx = (x: number): number => margin.left + (x / xDecadesMax) * plotW;
  const sy = (ms: number): number => {
    const v = Math.log10(Math.max(ms, yMinMs));
    return margin.top + plotH - ((v - Math.log10(yMinMs)) / (Math.log10(yMaxMs) - Math.log10(yMinMs))) * plotH;
  };
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(opts.title)}</text>`);
  // Grid: decades on both axes.
  const xLabels = ['0%', '90%', '99%', '99.9%', '99.99%', '99.999%'];
  for (let d = 0; d <= xDecadesMax; d++) {
    const x = sx(d);
    parts.push(`<line x1="${x}" y1="${margin.top}" x2="${x}" y2="${margin.top + plotH}" stroke="#ddd"/>`);
    parts.push(`<text x="${x}" y="${margin.top + plotH + 18}" text-anchor="middle">${xLabels[d]}</text>`);
  }
  for (let v = yMinMs; v <= yMaxMs * 1.0001; v *= 10) {
    const y = sy(v);
    parts.push(`<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${formatMs(v)}</text>`);
  }
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">percentile</text>`);
  parts.push(`<text x="16" y="${margin.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${margin.top + plotH / 2})">latency (ms, log scale)</text>`);
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  if (opts.targetMs !== undefined) {
    const y = sy(opts.targetMs);
    parts.push(`<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#000" stroke-dasharray="2,3"/>`);
    parts.push(`<text x="${margin.left + 4}" y="${y - 4}">${formatMs(opts.targetMs)} target</text>`);
  }
  all.forEach((s, i) => {
    const color = colors[i]!;
    if (s.points.length > 0) {
      const d = s.points.map(([x, ms], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(ms).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6,4"' : ''}/>`);
    }
    const ly = margin.top + 10 + i * 18;
    const lx = margin.left + plotW + 12;
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6,4"' : ''}/>`);
    parts.push(`<text x="${lx + 28}" y="${ly + 4}">${escapeXml(s.label)} (n=${s.histogram.totalCount})</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function formatMs(ms: number): string {
  return ms >= 1 ? `${ms} ms` : `${Number(ms.toPrecision(3))} ms`;
}
