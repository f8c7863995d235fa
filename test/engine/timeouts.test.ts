import { describe, expect, test } from '@jest/globals';
import { InvalidArgumentError } from 'commander';
import { timeoutOption } from '../../src/cli/common.js';
import { checkTimeouts, requestTimeouts } from '../../src/engine/timeouts.js';

describe('timeouts per probe class', () => {
  test('tcp and http: connect is the handshake, response the whole exchange; https is http', () => {
    const t = { http: { connectMs: 3000, responseMs: 10_000 }, tcp: { connectMs: 1000 } };
    expect(requestTimeouts('https', t)).toEqual({ connect: 3000, total: 10_000 });
    expect(requestTimeouts('tcp', t)).toEqual({ connect: 1000 });
    expect(requestTimeouts('udp', t)).toBeUndefined(); // unset: the target's defaults
  });

  test('udp and icmp wait for the reply within the response timeout', () => {
    expect(requestTimeouts('udp', { udp: { responseMs: 700 } })).toEqual({ connect: 700, total: 700 });
    expect(requestTimeouts('icmp', { icmp: { responseMs: 900 } })).toEqual({ connect: 900, total: 900 });
  });

  test('nonsense is refused with the flag named', () => {
    expect(checkTimeouts({ udp: { connectMs: 100 } })[0]).toMatch(/--connect-timeout udp: udp has no handshake/);
    expect(checkTimeouts({ tcp: { connectMs: 5000, responseMs: 1000 } })[0]).toMatch(/longer than --response-timeout tcp/);
    expect(checkTimeouts({ tcp: { responseMs: 0 } })[0]).toMatch(/--response-timeout tcp: a duration above 0/);
    expect(checkTimeouts({ http: { connectMs: 1000, responseMs: 8000 } })).toEqual([]);
  });

  test('the flags: one duration for every class they apply to, or class=duration pairs; later values win', () => {
    const connect = timeoutOption('connectMs');
    const response = timeoutOption('responseMs');
    expect(connect('3s')).toEqual({ tcp: { connectMs: 3000 }, http: { connectMs: 3000 } });
    expect(response('http=10s,udp=500ms')).toEqual({ http: { responseMs: 10_000 }, udp: { responseMs: 500 } });
    expect(response('icmp=1s', response('4s'))).toEqual({
      tcp: { responseMs: 4000 },
      http: { responseMs: 4000 },
      udp: { responseMs: 4000 },
      icmp: { responseMs: 1000 },
    });
    expect(() => connect('smtp=1s')).toThrow(InvalidArgumentError);
    expect(() => connect('http=soon')).toThrow(InvalidArgumentError);
  });
});
