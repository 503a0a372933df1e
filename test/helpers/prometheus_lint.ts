// Checks a Prometheus text exposition (format 0.0.4) the way `promtool check metrics` would a
// node's /metrics, and more strictly about what ringkv promises: every family has a HELP and a
// TYPE before its samples, once; a counter's name ends in `_total` and a gauge's does not; a
// histogram has only `_bucket` (with `le`, ending at +Inf), `_sum` and `_count` samples; every
// sample belongs to a declared family and has a number for its value; no HELP says the catalog
// lacks the family (server/metric_catalog.ts). Returns the problems found, none when it is clean.

interface Family {
  type: string | undefined;
  help: string | undefined;
  samples: number;
}

const nameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/;

/** The family a sample name belongs to: itself, or a histogram's base for its suffixed series. */
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    if (families.get(base)?.type === 'histogram') return base;
  }
  return name;
}

/** A bucket's label set without its `le`: the series its buckets belong to. */
function withoutLe(labels: string): string {
  const rest = labels.replace(/(^\{|,)le="[^"]*"/, '$1').replace('{,', '{');
  return rest === '{}' ? '' : rest;
}

export function lintExposition(text: string): string[] {
  const problems: string[] = [];
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) families.set(name, (f = { type: undefined, help: undefined, samples: 0 }));
    return f;
  };
  const lastBucket = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const [, what, name, rest] = meta as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (!nameRe.test(name)) problems.push(`bad metric name ${name}`);
      const f = family(name);
      if (f.samples > 0) problems.push(`${what} of ${name} after its samples`);
      if (what === 'HELP') {
        if (f.help !== undefined) problems.push(`${name} has two HELP lines`);
        f.help = rest;
        if (rest === '') problems.push(`${name} has an empty HELP`);
        if (rest.startsWith('Not described')) problems.push(`${name}: ${rest}`);
      } else {
        if (f.type !== undefined) problems.push(`${name} has two TYPE lines`);
        f.type = rest;
        if (!['counter', 'gauge', 'histogram'].includes(rest)) problems.push(`${name} has type ${rest}`);
        if (rest === 'counter' && !name.endsWith('_total')) problems.push(`counter ${name} does not end in _total`);
        if (rest !== 'counter' && name.endsWith('_total')) problems.push(`${rest} ${name} ends in _total`);
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = sampleRe.exec(line);
    if (m === null) {
      problems.push(`unparsable line: ${line}`);
      continue;
    }
    const [, name, labels, value] = m as unknown as [string, string, string | undefined, string];
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]Inf$|^NaN$/.test(value)) problems.push(`${name}${labels ?? ''} has value ${value}`);
    const base = familyOf(name, families);
    const f = families.get(base);
    if (f === undefined || f.type === undefined || f.help === undefined) {
      problems.push(`sample ${name} without HELP and TYPE before it`);
      continue;
    }
    f.samples++;
    if (f.type === 'histogram') {
      if (name === base) problems.push(`histogram ${base} has a bare sample`);
      if (name.endsWith('_bucket')) {
        const le = /(?:^|[{,])le="([^"]*)"/.exec(labels ?? '');
        if (le === null) problems.push(`${name} without le`);
        else lastBucket.set(`${base}${withoutLe(labels ?? '')}`, le[1]!);
      }
    }
  }
  for (const [series, le] of lastBucket) if (le !== '+Inf') problems.push(`${series}: last bucket le="${le}", not +Inf`);
  for (const [name, f] of families) {
    if (f.type === undefined) problems.push(`${name} has a HELP but no TYPE`);
    if (f.help === undefined) problems.push(`${name} has a TYPE but no HELP`);
  }
  return problems;
}

