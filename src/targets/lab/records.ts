/**
 * The sidecar's decision log as the lab reads it: each line is `<time> <dir> <from> -> <to> <result> | <json>`.
 * The lab reads new lines incrementally and indexes inbound connections by the address the sidecar used towards
 * the application — which is exactly the source address the application recorded — so a TCP observation can be
 * joined to the peer identity the sidecar verified.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { DecisionRecord } from './sidecar/context.js';

const SEPARATOR = ' | {';

export function parseRecordLine(line: string): DecisionRecord | undefined {
  const at = line.indexOf(SEPARATOR);
  if (at < 0) return undefined;
  try {
    return JSON.parse(line.slice(at + 3)) as DecisionRecord;
  } catch {
    return undefined;
  }
}

export class SidecarRecords {
  private offset = 0;
  private partial = '';
  private readonly byUpstream = new Map<string, DecisionRecord>();

  constructor(private readonly file: string) {}

  /** The newest inbound record whose upstream (sidecar → application) address is `address:port`. */
  inboundVia(address: string, port: number): DecisionRecord | undefined {
    this.refresh();
    return this.byUpstream.get(`${address}:${port}`);
  }

  private refresh(): void {
    if (!existsSync(this.file)) return;
    const size = statSync(this.file).size;
    if (size <= this.offset) return;
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const text = this.partial + buf.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const r = parseRecordLine(line);
      if (r?.dir === 'inbound' && r.upstream) this.byUpstream.set(r.upstream, r);
    }
  }
}
