/**
 * A small parser for the Prometheus text exposition format (what istiod serves on :15014/metrics), enough to
 * read counters such as pilot_total_xds_rejects{type="…"}.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (text[i] === ',' || text[i] === ' ') i++;
    if (i >= text.length) break;
    const eq = text.indexOf('=', i);
    if (eq < 0 || text[eq + 1] !== '"') throw new Error(`metrics line ${line}: malformed labels "${text}"`);
    const name = text.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        value += next === 'n' ? '\n' : next;
      } else value += text[j];
    }
    if (j >= text.length) throw new Error(`metrics line ${line}: unterminated label value in "${text}"`);
    labels[name] = value;
    i = j + 1;
  }
  return labels;
}

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const n = Number(s);
  if (Number.isNaN(n)) throw new Error(`not a sample value: "${s}"`);
  return n;
}

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`metrics line ${index + 1}: not a sample: "${line}"`);
    samples.push({ name: m[1], labels: m[3] ? parseLabels(m[3], index + 1) : {}, value: parseValue(m[4]) });
  });
  return samples;
}

/** Sum of a metric over all its label sets (0 when absent: istiod only exports a counter after its first event). */
export function metricTotal(samples: Sample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((sum, s) => sum + s.value, 0);
}

export const XDS_REJECTS = 'pilot_total_xds_rejects';
