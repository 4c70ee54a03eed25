// Structural checks of a Prometheus text exposition that promtool's parser
// does not make but Go's expfmt consumers (AIBrix) rely on: each family in
// one contiguous block after its # HELP / # TYPE, histogram buckets sorted,
// cumulative, ending in le="+Inf" equal to _count. Reads stdin; prints the
// problems and exits 1 when there are any.
// Usage: curl -s URL/metrics | node tests/e2e/check_metrics.mjs
import { readFileSync } from 'node:fs';

const text = readFileSync(0, 'utf8');
const problems = [];
const types = new Map(); // family -> type
const seenDone = new Set(); // families whose block has ended
let current = null;
const hist = new Map(); // family + labels-without-le -> {buckets: [[le, v]], count}

function familyOf(name) {
  const t = (n) => types.get(n);
  for (const suf of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suf)) {
      const base = name.slice(0, -suf.length);
      if (t(base) === 'histogram' || t(base) === 'summary') return base;
    }
  }
  return name;
}

function parseLabels(s) {
  const out = [];
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/y;
  let m;
  re.lastIndex = 0;
  while (re.lastIndex < s.length && (m = re.exec(s))) out.push([m[1], m[2]]);
  if (re.lastIndex !== s.length && s.trim() !== '') problems.push(`bad label set {${s}}`);
  return out;
}

if (!text.endsWith('\n')) problems.push('exposition does not end with a newline');
const lines = text.split('\n');
lines.forEach((line, i) => {
  const where = `line ${i + 1}`;
  if (line === '') return;
  let m;
  if ((m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line))) {
    const [, kind, fam, rest] = m;
    if (kind === 'TYPE') {
      if (types.has(fam)) problems.push(`${where}: second TYPE for ${fam}`);
      types.set(fam, rest);
    }
    if (current !== fam) {
      if (current) seenDone.add(current);
      if (seenDone.has(fam)) problems.push(`${where}: ${fam} appears in two blocks`);
      current = fam;
    }
    return;
  }
  if (line.startsWith('#')) return;
  m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (\S+))?$/.exec(line);
  if (!m) {
    problems.push(`${where}: unparsable sample: ${line}`);
    return;
  }
  const [, name, labelStr = '', value] = m;
  if (Number.isNaN(Number(value)) && !['+Inf', '-Inf', 'NaN'].includes(value))
    problems.push(`${where}: bad value ${value}`);
  const fam = familyOf(name);
  if (!types.has(fam)) problems.push(`${where}: sample of ${fam} without # TYPE`);
  if (fam !== current) {
    if (current) seenDone.add(current);
    if (seenDone.has(fam)) problems.push(`${where}: ${fam} appears in two blocks`);
    current = fam;
  }
  if (types.get(fam) === 'histogram') {
    const labels = parseLabels(labelStr);
    const le = labels.find(([k]) => k === 'le');
    const key = fam + '{' + labels.filter(([k]) => k !== 'le').map(([k, v]) => `${k}=${v}`).sort().join(',') + '}';
    if (!hist.has(key)) hist.set(key, { buckets: [], count: null });
    const h = hist.get(key);
    if (name.endsWith('_bucket')) {
      if (!le) problems.push(`${where}: bucket without le`);
      else h.buckets.push([le[1] === '+Inf' ? Infinity : Number(le[1]), Number(value)]);
    } else if (name.endsWith('_count')) h.count = Number(value);
  }
});

for (const [key, h] of hist) {
  const b = h.buckets;
  if (b.length === 0 || b[b.length - 1][0] !== Infinity) problems.push(`${key}: no le="+Inf" bucket last`);
  for (let i = 1; i < b.length; i++) {
    if (!(b[i][0] > b[i - 1][0])) problems.push(`${key}: le not increasing at ${b[i][0]}`);
    if (b[i][1] < b[i - 1][1]) problems.push(`${key}: buckets not cumulative at le=${b[i][0]}`);
  }
  if (h.count === null) problems.push(`${key}: no _count`);
  else if (b.length && b[b.length - 1][1] !== h.count) problems.push(`${key}: +Inf bucket != _count`);
}

if (problems.length) {
  console.error(problems.slice(0, 20).join('\n'));
  process.exit(1);
}
