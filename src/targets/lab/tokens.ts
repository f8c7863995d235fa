/**
 * The lab's second wall: every value that goes into `ip -batch` or iptables-restore input, a namespace or file
 * name, a hosts file or a setpriv argument is checked here against a strict pattern, token by token, before it is
 * joined into a line. The loader validates scenarios first; these checks are independent of it, so that even a
 * value that slipped past the loader (or a bug in the code that builds rules) can never add a line, an option or a
 * path component: the lab refuses it with a TargetError instead.
 */
import { TargetError } from '../target.js';

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
const PREFIX = /^(3[0-2]|[12]?\d)$/;
const PORT = /^[1-9]\d{0,4}$/;

export type TokenKind = 'ipv4' | 'cidr' | 'port' | 'portRange' | 'iface' | 'chain' | 'netns' | 'uid' | 'hostname' | 'capability' | 'path';

const isPort = (s: string) => PORT.test(s) && Number(s) <= 65535;

const CHECKS: Record<TokenKind, (s: string) => boolean> = {
  ipv4: (s) => IPV4.test(s),
  // An address with an optional prefix length, as iptables -s/-d and `ip addr` take it.
  cidr: (s) => {
    const [addr, prefix, ...rest] = s.split('/');
    return rest.length === 0 && IPV4.test(addr) && (prefix === undefined || PREFIX.test(prefix));
  },
  port: isPort,
  portRange: (s) => {
    const [a, b, ...rest] = s.split(':');
    return rest.length === 0 && isPort(a) && (b === undefined || (isPort(b) && Number(a) <= Number(b)));
  },
  // Linux allows almost anything in an interface name; the lab names its own and accepts only this much.
  iface: (s) => /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,14}$/.test(s),
  chain: (s) => /^[A-Z][A-Z0-9_-]{0,27}$/.test(s),
  netns: (s) => /^mp-[a-z0-9]{4,8}-[a-z0-9][a-z0-9.-]{0,40}$/.test(s),
  uid: (s) => /^(0|[1-9]\d{0,9})$/.test(s) && Number(s) < 2 ** 32 - 1,
  hostname: (s) => s.length <= 253 && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(s),
  capability: (s) => /^[A-Z][A-Z_]{1,30}$/.test(s),
  // An absolute path of the lab's own files: no segment may start with a dot (no `..`), no space, no option.
  path: (s) => s.length <= 255 && /^(\/[A-Za-z0-9_][A-Za-z0-9._-]{0,63}){1,12}$/.test(s),
};

/** Returns `value` when it is a `kind` token; otherwise refuses (naming `where` and the value, quoted). */
export function token(kind: TokenKind, value: unknown, where: string): string {
  if (typeof value !== 'string' || !CHECKS[kind](value)) {
    throw new TargetError(
      `${where}: ${JSON.stringify(value)} is not a valid ${kind}; the lab refuses it`,
      'fix the value in the scenario (validate should have rejected it)',
    );
  }
  return value;
}

export const isToken = (kind: TokenKind, value: string): boolean => CHECKS[kind](value);

// ---- iptables rules: `-A CHAIN` then option/value pairs, each value checked for what its option takes ----

const VALUE_OF: Record<string, TokenKind | readonly string[]> = {
  '-A': 'chain',
  '-j': 'chain',
  '-p': ['tcp', 'udp', 'sctp'],
  '-s': 'cidr',
  '-d': 'cidr',
  '-i': 'iface',
  '-o': 'iface',
  '-m': ['conntrack', 'owner'],
  '--ctstate': ['ESTABLISHED,RELATED'],
  '--dport': 'portRange',
  '--to-ports': 'port',
  '--uid-owner': 'uid',
  '--gid-owner': 'uid',
};
/** Options that may be negated with a preceding `!`. */
const NEGATABLE = new Set(['-s', '-d', '-i', '-o', '-p', '--dport', '--uid-owner', '--gid-owner']);

function checkRuleTokens(tokens: readonly string[], where: string): void {
  const bad = (why: string): never => {
    throw new TargetError(`${where}: refusing the iptables rule ${JSON.stringify(tokens.join(' '))}: ${why}`);
  };
  if (tokens[0] !== '-A') bad('a rule must start with -A');
  const seen = new Set<string>();
  for (let i = 0; i < tokens.length; ) {
    const negated = tokens[i] === '!';
    const opt = tokens[negated ? i + 1 : i];
    const spec = VALUE_OF[opt];
    if (spec === undefined) bad(`option ${JSON.stringify(opt)} is not one the lab writes`);
    if (negated && !NEGATABLE.has(opt)) bad(`${opt} cannot be negated`);
    if (opt !== '-m' && seen.has(opt)) bad(`${opt} appears twice`);
    seen.add(opt);
    const value = tokens[negated ? i + 2 : i + 1];
    const ok = value !== undefined && (typeof spec === 'string' ? CHECKS[spec](value) : spec.includes(value));
    if (!ok) bad(`${JSON.stringify(value)} is not a valid value of ${opt}`);
    i += negated ? 3 : 2;
  }
  if (!seen.has('-j')) bad('a rule needs a -j target');
}

/** One rule line (`-A CHAIN …`) from its tokens, each checked against what its option takes. */
export function iptablesRule(tokens: readonly string[], where = 'iptables rule'): string {
  checkRuleTokens(tokens, where);
  return tokens.join(' ');
}

const TABLES: Record<string, readonly string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
};

/**
 * iptables-restore input for one table, from chain names and rule lines (re-checked token by token: the input is
 * what the lab feeds to iptables-restore, so nothing else may be in it). Built-in chains ACCEPT by default.
 */
export function restoreInput(table: 'filter' | 'nat', chains: readonly string[], rules: readonly string[], builtins = false): string {
  const head = builtins ? TABLES[table].map((c) => `:${c} ACCEPT [0:0]`) : [];
  const text = [`*${table}`, ...head, ...chains.map((c) => `:${token('chain', c, `${table} chain`)} - [0:0]`), ...rules, 'COMMIT', ''].join('\n');
  checkRestoreInput(text);
  return text;
}

/** Refuses iptables-restore input with anything but one table's chain declarations, checked rules and COMMIT. */
export function checkRestoreInput(text: string): void {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const where = 'iptables-restore input';
  const table = /^\*(filter|nat)$/.exec(lines[0] ?? '')?.[1];
  if (!table) throw new TargetError(`${where}: must start with *filter or *nat`);
  if (lines.at(-1) !== 'COMMIT') throw new TargetError(`${where}: must end with COMMIT`);
  for (const line of lines.slice(1, -1)) {
    const decl = /^:([A-Z][A-Z0-9_-]{0,27}) (ACCEPT|DROP|-) \[0:0\]$/.exec(line);
    if (decl) {
      if ((decl[2] === '-') === TABLES[table].includes(decl[1])) throw new TargetError(`${where}: bad chain declaration ${JSON.stringify(line)}`);
      continue;
    }
    checkRuleTokens(line.split(' '), where);
  }
}

// ---- ip -batch input: each line one of the lab's own commands, with checked values in its places ----

const IP_LINES = [
  'netns add NETNS',
  'netns delete NETNS',
  'link set IFACE up',
  'link add IFACE netns NETNS type veth peer name eth0 netns NETNS',
  'addr add CIDR dev IFACE',
  'route add CIDR dev IFACE src IPV4',
  'route add CIDR dev IFACE scope link',
  'route add default via IPV4 dev IFACE',
  // A namespace's own batch and rules, from files the lab wrote (their contents checked before writing).
  'netns exec NETNS ip -batch PATH',
  'netns exec NETNS iptables-restore PATH',
].map((l) => l.split(' '));
const PLACES: Record<string, TokenKind> = { NETNS: 'netns', IFACE: 'iface', CIDR: 'cidr', IPV4: 'ipv4', PATH: 'path' };

const ipLineOk = (l: readonly string[]) =>
  IP_LINES.some((shape) => shape.length === l.length && shape.every((w, i) => (PLACES[w] ? CHECKS[PLACES[w]](l[i]) : w === l[i])));

/** `ip -batch` input from lines of tokens: each line must be one of the lab's commands with valid values. */
export function ipBatch(lines: readonly (readonly string[])[]): string {
  for (const l of lines) if (!ipLineOk(l)) throw new TargetError(`ip batch: refusing ${JSON.stringify(l.join(' '))}`);
  return lines.map((l) => `${l.join(' ')}\n`).join('');
}
