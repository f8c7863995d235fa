/** When the lab runtime ends a waiting socket early (runtime/fate.ts): only on a counter read after its packet left. */
import { describe, expect, test } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { SEALED_EVENT, type SealedFate } from '../../../src/agent/net.js';
import { forgetLab, onDropRead, watchUdp, type DropRead } from '../../../src/targets/lab/runtime/fate.js';

const RULE = '-A MP-IN-0 -s 10.0.0.1/32 -p udp --dport 53 -j DROP';
const FLOW = 'udp 10.0.0.1>10.0.0.2:53';

function udpSocket(lab: string) {
  const s = Object.assign(new EventEmitter(), { remoteAddress: () => ({ address: '10.0.0.2', port: 53 }) });
  const fates: SealedFate[] = [];
  s.on(SEALED_EVENT, (f: SealedFate) => fates.push(f));
  const w = watchUdp(s, `/run/netns/mp-${lab}-w0-app-client`, () => '10.0.0.1');
  return { s, fates, w };
}

const read = (lab: string, startedAt: number, packets: number, generation = 1, flow = FLOW): DropRead => ({
  lab,
  generation,
  appliedAt: 0,
  startedAt,
  finishedAt: startedAt + 5,
  counts: packets ? [{ flow, packets, rule: RULE, side: 'ingress' }] : [],
});

describe('early verdicts in the runtime', () => {
  test('a read that began before the datagram left decides nothing; one after it with more drops does', () => {
    const { fates, w } = udpSocket('la');
    const before = Date.now() - 10_000;
    w.markSent();
    onDropRead(read('la', before, 4)); // the flow was dropped before: not evidence about this datagram
    expect(fates).toEqual([]);
    onDropRead(read('la', Date.now() + 1_000, 4)); // no more drops since: nothing
    expect(fates).toEqual([]);
    onDropRead(read('la', Date.now() + 2_000, 5));
    expect(fates).toHaveLength(1);
    expect(fates[0].by).toContain(`rule \`${RULE}\` counted 1 more packet(s) of this flow (4 → 5)`);
    forgetLab('la');
  });

  test('a datagram not yet sent, another flow, another lab or rules replaced since decide nothing', () => {
    const unsent = udpSocket('lb');
    onDropRead(read('lb', Date.now() + 1_000, 3));
    expect(unsent.fates).toEqual([]);

    const other = udpSocket('lb');
    other.w.markSent();
    onDropRead(read('lb', Date.now() + 2_000, 9, 1, 'udp 10.0.0.1>10.0.0.3:53'));
    onDropRead(read('lc', Date.now() + 2_000, 9));
    expect(other.fates).toEqual([]);
    // The rules were replaced (generation 2); a late read of the old rules is ignored.
    onDropRead(read('lb', Date.now() + 3_000, 0, 2));
    onDropRead(read('lb', Date.now() + 4_000, 9, 1));
    expect(other.fates).toEqual([]);
    forgetLab('lb');
    forgetLab('lc');
  });

  test('a closed socket is no longer waiting', () => {
    const { s, fates, w } = udpSocket('ld');
    w.markSent();
    s.emit('close');
    onDropRead(read('ld', Date.now() + 1_000, 2));
    expect(fates).toEqual([]);
    forgetLab('ld');
  });
});
