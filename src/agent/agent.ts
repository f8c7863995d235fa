/**
 * meshprobe-agent: the program inside every probe workload. Roles:
 *   serve --config FILE                       listen, record, answer; prints `ready` when every listener is up
 *   call [--concurrency N]                    ProbeRequests on stdin (JSON array or lines) → ProbeResult lines
 *   call --chains [--stagger MS] [--concurrency N]   chains of ProbeRequests on stdin (array of arrays), each
 *                                             chain in order (see runChains) → ProbeResult lines
 *   call --chains --fates …                   the chains as stdin's first line; fates from the target follow
 *                                             on stdin, `sent` lines go out with the results (fates.ts)
 *   query --control SOCK --nonce N [--nonce N…]   what a running `serve` recorded for those nonces (JSON)
 * Exit status: 0 when the role did its job (whatever the probe outcomes), 2 for bad input, 1 when it failed.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Fates } from './fates.js';
import { runChains, runProbe, runProbes } from './call.js';
import { parseProbeChains, parseProbeRequests, parseServeConfig } from './config.js';
import { queryObservations } from './control.js';
import { startAgent } from './serve.js';
import type { ProbeRequest } from './types.js';
import { AGENT_VERSION } from './version.js';

const USAGE = `usage: meshprobe-agent serve --config FILE
       meshprobe-agent call [--concurrency N] < requests.json
       meshprobe-agent call --chains [--stagger MS] [--concurrency N] < chains.json
       meshprobe-agent call --chains --fates [--stagger MS] [--concurrency N]   (chains on stdin's first line, fates after)
       meshprobe-agent query --control SOCK --nonce N [--nonce N...]
       meshprobe-agent --version`;

class UsageError extends Error {}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

async function writeLine(line: string): Promise<void> {
  if (!process.stdout.write(`${line}\n`)) await new Promise((r) => process.stdout.once('drain', r));
}

async function call(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { concurrency: { type: 'string' }, chains: { type: 'boolean' }, stagger: { type: 'string' }, fates: { type: 'boolean' } },
  });
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) {
    throw new UsageError(`--concurrency must be a positive integer, got ${values.concurrency}`);
  }
  const staggerMs = values.stagger === undefined ? undefined : Number(values.stagger);
  if (staggerMs !== undefined && !(Number.isInteger(staggerMs) && staggerMs >= 0))
    throw new UsageError(`--stagger must be an integer ≥ 0 (ms), got ${values.stagger}`);
  if (staggerMs !== undefined && !values.chains) throw new UsageError('--stagger goes with --chains');
  if (values.fates && !values.chains) throw new UsageError('--fates goes with --chains');
  if (values.fates) {
    // The chains are the first line of stdin; the target's fates follow, one per line (fates.ts).
    const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
    const fates = new Fates((s) => void writeLine(JSON.stringify(s)));
    const first = await new Promise<string>((resolve) => {
      let got = false;
      lines.on('line', (l) => {
        if (got) return fates.onLine(l);
        got = true;
        resolve(l);
      });
      lines.once('close', () => got || resolve(''));
    });
    const parsed = parseProbeChains(first);
    if (!parsed.ok) throw new UsageError(`bad probe chains on stdin:\n  ${parsed.errors.slice(0, 20).join('\n  ')}`);
    const send = async (r: ProbeRequest) => {
      const result = await runProbe(r, fates.netFor(r.nonce));
      await writeLine(JSON.stringify(result));
      return result;
    };
    await runChains(parsed.value, { concurrency, staggerMs, send });
    lines.close();
    process.stdin.destroy();
    return 0;
  }
  if (values.chains) {
    const parsed = parseProbeChains(await readStdin());
    if (!parsed.ok) throw new UsageError(`bad probe chains on stdin:\n  ${parsed.errors.slice(0, 20).join('\n  ')}`);
    const send = async (r: ProbeRequest) => {
      const result = await runProbe(r);
      await writeLine(JSON.stringify(result));
      return result;
    };
    await runChains(parsed.value, { concurrency, staggerMs, send });
    return 0;
  }
  const parsed = parseProbeRequests(await readStdin());
  if (!parsed.ok) throw new UsageError(`bad probe requests on stdin:\n  ${parsed.errors.slice(0, 20).join('\n  ')}`);
  for await (const result of runProbes(parsed.value, { concurrency })) await writeLine(JSON.stringify(result));
  return 0;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } } });
  if (!values.config) throw new UsageError('serve needs --config FILE');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(values.config, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read config ${values.config}: ${(err as Error).message}`);
  }
  const config = parseServeConfig(raw);
  if (!config.ok) throw new UsageError(`invalid config ${values.config}:\n  ${config.errors.join('\n  ')}`);
  const agent = await startAgent(config.value);
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    const stop = () => {
      // Open client connections must not hold the exit: close listeners, give them a moment, then go.
      const timer = setTimeout(resolve, 500);
      void agent.close().then(() => {
        clearTimeout(timer);
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}

async function query(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { control: { type: 'string' }, nonce: { type: 'string', multiple: true } } });
  if (!values.control || !values.nonce?.length) throw new UsageError('query needs --control SOCK and at least one --nonce N');
  const observations = await queryObservations(values.control, values.nonce);
  process.stdout.write(`${JSON.stringify(observations)}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [role, ...rest] = argv;
  switch (role) {
    case 'serve':
      return serve(rest);
    case 'call':
      return call(rest);
    case 'query':
      return query(rest);
    case '--version':
      process.stdout.write(`meshprobe-agent ${AGENT_VERSION}\n`);
      return 0;
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      throw new UsageError(role ? `unknown role "${role}"` : 'no role given');
  }
}

/** process.exit does not wait for a pipe's pending writes (kubectl exec, ip netns exec read through pipes). */
function flushStdout(): Promise<void> {
  return new Promise((resolve) => process.stdout.write('', () => resolve()));
}

main(process.argv.slice(2)).then(
  async (status) => {
    await flushStdout();
    process.exit(status);
  },
  (err: unknown) => {
    const usage = err instanceof UsageError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`meshprobe-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    if (usage) process.stderr.write(`${USAGE}\n`);
    process.exit(usage ? 2 : 1);
  },
);
