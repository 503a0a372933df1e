// Latency recording for one run: an HdrHistogram per operation kind plus one for all operations,
// in microseconds, for two measures: `latency` from the op's INTENDED start on the open-loop
// timeline (what a user waiting on the system sees, coordinated omission included) and `service`
// from when the request was actually sent (what closed-loop tools report). Interval histograms
// are flushed to an HdrHistogram log as the run goes, so memory stays bounded however long it is.
import * as hdr from 'hdr-histogram-js';
import { assert } from '../../src/errors';
import type { OpKind } from './workloads';

/** 60 s: anything slower is clamped (and a client timeout fires long before). */
export const latencyUsMax = 60_000_000;
export const significantDigits = 3;
export const logIntervalMsDefault = 1_000;

export type Measure = 'latency' | 'service';
export type Tag = OpKind | 'all';

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

export function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: latencyUsMax,
    numberOfSignificantValueDigits: significantDigits,
    autoResize: false,
  });
}

export function summarize(h: hdr.Histogram): LatencySummary {
  const ms = (us: number): number => us / 1000;
  if (h.totalCount === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0 };
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
    meanMs: ms(h.mean),
  };
}

/** Milliseconds to whole microseconds, clamped into the histogram's range. */
export function toMicros(ms: number): number {
  return Math.min(latencyUsMax, Math.max(1, Math.round(ms * 1000)));
}

interface Series {
  total: hdr.Histogram;
  interval: hdr.Histogram;
}

export class LatencyRecorder {
  private readonly series = new Map<string, Series>();
  private readonly logLines: string[] = [];
  private readonly writer: hdr.HistogramLogWriter;
  private intervalStartMs: number;

  constructor(
    readonly t0Ms: number,
    private readonly intervalMs = logIntervalMsDefault,
    wallClockStartMs = Date.now(),
  ) {
    assert(intervalMs > 0, 'log interval must be positive');
    this.intervalStartMs = t0Ms;
    this.writer = new hdr.HistogramLogWriter((text) => this.logLines.push(text));
    this.writer.outputLogFormatVersion();
    this.writer.outputStartTime(wallClockStartMs);
    this.writer.outputComment('values in microseconds; tags are <measure>.<op>, measure latency = from intended start');
    this.writer.outputLegend();
  }

  /** Records one finished operation; times are on the run's clock, in ms. */
  record(kind: OpKind, intendedMs: number, sentMs: number, doneMs: number): void {
    assert(sentMs >= intendedMs && doneMs >= sentMs, 'times must be intended <= sent <= done');
    this.rollIntervals(doneMs);
    const latency = toMicros(doneMs - intendedMs);
    const service = toMicros(doneMs - sentMs);
    this.get('latency', kind).total.recordValue(latency);
    this.get('latency', kind).interval.recordValue(latency);
    this.get('latency', 'all').total.recordValue(latency);
    this.get('latency', 'all').interval.recordValue(latency);
    this.get('service', kind).total.recordValue(service);
    this.get('service', kind).interval.recordValue(service);
    this.get('service', 'all').total.recordValue(service);
    this.get('service', 'all').interval.recordValue(service);
  }

  summary(measure: Measure, tag: Tag): LatencySummary {
    const s = this.series.get(`${measure}.${tag}`);
    return s === undefined ? summarize(newHistogram()) : summarize(s.total);
  }

  /** The whole-run histogram (for plots); undefined when nothing of that tag was recorded. */
  histogram(measure: Measure, tag: Tag): hdr.Histogram | undefined {
    return this.series.get(`${measure}.${tag}`)?.total;
  }

  tags(): Tag[] {
    const out = new Set<Tag>();
    for (const name of this.series.keys()) out.add(name.split('.')[1] as Tag);
    return [...out];
  }

  /** Flushes the open interval and returns the whole log (HdrHistogram log format 1.3). */
  finish(endMs: number): string {
    this.flushInterval(Math.max(endMs, this.intervalStartMs));
    return this.logLines.join('');
  }

  private rollIntervals(nowMs: number): void {
    while (nowMs >= this.intervalStartMs + this.intervalMs) this.flushInterval(this.intervalStartMs + this.intervalMs);
  }

  private flushInterval(endMs: number): void {
    const startSec = (this.intervalStartMs - this.t0Ms) / 1000;
    const endSec = (endMs - this.t0Ms) / 1000;
    for (const [name, s] of this.series) {
      if (s.interval.totalCount === 0) continue;
      // reset() clears the tag, so it is set again for every line.
      s.interval.tag = name;
      this.writer.outputIntervalHistogram(s.interval, startSec, endSec, 1000);
      s.interval.reset();
    }
    this.intervalStartMs = endMs;
  }

  private get(measure: Measure, tag: Tag): Series {
    const name = `${measure}.${tag}`;
    let s = this.series.get(name);
    if (s === undefined) {
      s = { total: newHistogram(), interval: newHistogram() };
      this.series.set(name, s);
    }
    return s;
  }
}
