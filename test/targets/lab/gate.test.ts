import { describe, expect, it } from '@jest/globals';
import { Gate } from '../../../src/targets/lab/gate.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('lab probe gate (flush-capture runs alone)', () => {
  it('lets shared holders overlap', async () => {
    const g = new Gate();
    let inside = 0;
    let most = 0;
    const job = () =>
      g.shared(async () => {
        inside += 1;
        most = Math.max(most, inside);
        await tick(20);
        inside -= 1;
      });
    await Promise.all([job(), job(), job()]);
    expect(most).toBe(3);
  });

  it('an exclusive holder waits for running shared ones and keeps new ones out until it is done', async () => {
    const g = new Gate();
    const log: string[] = [];
    const first = g.shared(async () => {
      log.push('shared-1 start');
      await tick(30);
      log.push('shared-1 end');
    });
    await tick();
    const alone = g.alone(async () => {
      log.push('alone start');
      await tick(30);
      log.push('alone end');
    });
    await tick();
    const later = g.shared(async () => {
      log.push('shared-2 start');
    });
    await Promise.all([first, alone, later]);
    expect(log).toEqual(['shared-1 start', 'shared-1 end', 'alone start', 'alone end', 'shared-2 start']);
  });

  it('releases the gate when the exclusive work fails', async () => {
    const g = new Gate();
    await expect(g.alone(async () => Promise.reject(new Error('flush failed')))).rejects.toThrow('flush failed');
    await expect(g.shared(async () => 'ran')).resolves.toBe('ran');
  });
});
