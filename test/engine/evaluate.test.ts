import { describe, expect, it } from '@jest/globals';
import { classify, evaluate } from '../../src/engine/evaluate.js';
import type { Observation, Outcome } from '../../src/agent/types.js';
import type { Expectation, Probe } from '../../src/scenario/schema.js';
import type { AttemptResult } from '../../src/targets/target.js';

const CLIENT_POD = '10.77.0.2';
const SERVER_POD = '10.77.0.3';

function attempt(
  outcome: Outcome,
  arrived?: Partial<Observation> & { from?: string },
  extra: Partial<AttemptResult> = {},
  totalMs = 5,
): AttemptResult {
  const obs: Observation[] = arrived
    ? [
        {
          nonce: 'n',
          protocol: 'http',
          source: { address: arrived.from ?? '127.0.0.6', port: 40000 },
          local: { address: SERVER_POD, port: 8080 },
          at: '2024-01-01T00:00:00Z',
          ...arrived,
        },
      ]
    : [];
  return {
    nonce: 'n',
    probeName: 'p',
    client: { nonce: 'n', request: { nonce: 'n', protocol: 'http', host: 'server' }, outcome, timings: { totalMs }, bytes: { sent: 1, received: 0 } },
    arrived: obs,
    destinationQueried: true,
    destinationAddresses: [SERVER_POD],
    ...extra,
  };
}

const probe = (expect: Expectation, protocol: Probe['protocol'] = 'http'): Pick<Probe, 'to' | 'port' | 'protocol' | 'expect'> => ({
  to: 'app/server',
  port: 8080,
  protocol,
  expect,
});
const PEER = 'spiffe://cluster.local/ns/legacy/sa/client';

describe('evaluate', () => {
  it('reach is what the destination recorded, not the client outcome', () => {
    const e = evaluate(probe({ reach: true }), attempt({ kind: 'ok', status: 200 }));
    expect(e).toMatchObject({ kind: 'judged', matched: false, facts: { reach: false, outcome: 'ok' } });
    expect(e.kind === 'judged' && e.reason).toBe(
      'expected the request to reach app/server:8080 (http), but it never arrived: the client got HTTP 200',
    );
  });

  it('an ICMP probe reaches when the destination answers the echo request, whatever the application recorded', () => {
    const ping = probe({ reach: true }, 'icmp');
    expect(evaluate(ping, attempt({ kind: 'icmp', reply: true, rttMs: 0.1 }))).toMatchObject({ matched: true, facts: { reach: true } });
    const silent = evaluate(ping, attempt({ kind: 'icmp', reply: false }));
    expect(silent).toMatchObject({ matched: false, facts: { reach: false, outcome: 'timeout' } });
    expect(evaluate(probe({ reach: false, failure: 'timeout' }, 'icmp'), attempt({ kind: 'icmp', reply: false }))).toMatchObject({ matched: true });
  });

  it('a denial that arrived anyway fails, naming the source the application saw', () => {
    const e = evaluate(probe({ reach: false, failure: 'reset' }), attempt({ kind: 'ok' }, { from: CLIENT_POD }));
    expect(e.kind === 'judged' && e.reason).toBe(
      'expected the request to be blocked, but it reached app/server:8080 (http) (the application saw it from 10.77.0.2; the exchange completed)',
    );
  });

  it('says which failure was expected and what happened instead', () => {
    const e = evaluate(probe({ reach: false, failure: 'reset' }, 'tcp'), attempt({ kind: 'timeout', phase: 'connect' }, undefined, {}, 2000));
    expect(e.kind === 'judged' && e.reason).toBe('expected a TCP reset, the connection timed out after 2.0 s');
  });

  it('reset is satisfied by a reset and by accepted-then-closed (eof), nothing else', () => {
    const reset = probe({ reach: false, failure: 'reset' }, 'tcp');
    expect(evaluate(reset, attempt({ kind: 'reset', afterBytes: 0 }))).toMatchObject({ matched: true });
    expect(evaluate(reset, attempt({ kind: 'eof' }))).toMatchObject({ matched: true });
    expect(evaluate(reset, attempt({ kind: 'refused' }))).toMatchObject({ matched: false });
    expect(evaluate(reset, attempt({ kind: 'http', status: 403, body: '' }))).toMatchObject({ matched: false });
  });

  it('maps each failure class to its outcome', () => {
    const cases: Array<[Expectation['failure'], Outcome, boolean]> = [
      ['timeout', { kind: 'timeout', phase: 'connect' }, true],
      ['timeout', { kind: 'icmp', reply: false }, true],
      ['timeout', { kind: 'reset', afterBytes: 0 }, false],
      ['refused', { kind: 'refused' }, true],
      ['refused', { kind: 'timeout', phase: 'connect' }, false],
      ['tls', { kind: 'tls', reason: 'unknown ca' }, true],
      ['http-403', { kind: 'http', status: 403, body: 'RBAC: access denied' }, true],
      ['http-403', { kind: 'http', status: 502, body: '' }, false],
      ['http-502', { kind: 'http', status: 502, body: '' }, true],
      ['any', { kind: 'refused' }, true],
      ['any', { kind: 'error', errno: 'EHOSTUNREACH', message: 'no route' }, true],
      ['any', { kind: 'ok', status: 200 }, false],
    ];
    for (const [failure, outcome, ok] of cases) {
      const e = evaluate(probe({ reach: false, failure }), attempt(outcome));
      expect({ failure, outcome: outcome.kind, matched: e.kind === 'judged' && e.matched }).toEqual({ failure, outcome: outcome.kind, matched: ok });
    }
  });

  it('without a stated failure, reach: false is enough', () => {
    expect(evaluate(probe({ reach: false }), attempt({ kind: 'ok', status: 200 }))).toMatchObject({ matched: true });
  });

  it('an unclassified client error is an infrastructure failure, never a denial', () => {
    const e = evaluate(probe({ reach: false }), attempt({ kind: 'error', errno: 'ENOTFOUND', message: 'getaddrinfo server' }));
    expect(e).toEqual({ kind: 'infrastructure', reason: 'the probe client could not run the probe: ENOTFOUND getaddrinfo server' });
  });

  it('an unreadable destination is an infrastructure failure', () => {
    const e = evaluate(probe({ reach: true }), attempt({ kind: 'ok' }, {}, { destinationQueried: false }));
    expect(e).toMatchObject({ kind: 'infrastructure', reason: 'could not read what app/server recorded for this probe' });
  });

  it('mtls needs an identity the server may rely on; an unverified XFCC header is not one', () => {
    const viaSidecar = attempt({ kind: 'ok', status: 200 }, { peer: { identity: PEER, basis: 'xfcc-from-sidecar' } });
    expect(evaluate(probe({ reach: true, mtls: true, peer: PEER }), viaSidecar)).toMatchObject({ matched: true, facts: { mtls: true, peer: PEER } });
    const forged = attempt({ kind: 'ok', status: 200 }, { peer: { identity: PEER, basis: 'header-unverified' } });
    const e = evaluate(probe({ reach: true, mtls: true }), forged);
    expect(e.kind === 'judged' && e.reason).toBe(
      `expected mutual TLS, but the application saw no peer identity (only an unverified XFCC header claiming ${PEER})`,
    );
    const plain = evaluate(probe({ reach: true, mtls: false }), viaSidecar);
    expect(plain.kind === 'judged' && plain.reason).toBe(`expected plaintext, but the application saw the peer identity ${PEER}`);
  });

  it('checks the exact peer identity', () => {
    const other = 'spiffe://cluster.local/ns/app/sa/other';
    const e = evaluate(probe({ reach: true, peer: PEER }), attempt({ kind: 'ok' }, { peer: { identity: other, basis: 'tls-client-certificate' } }));
    expect(e.kind === 'judged' && e.reason).toBe(`expected the peer identity ${PEER}, the application saw ${other}`);
    const none = evaluate(probe({ reach: true, peer: PEER }), attempt({ kind: 'ok' }, {}));
    expect(none.kind === 'judged' && none.reason).toBe(`expected the peer identity ${PEER}, but the application saw none`);
  });

  it("viaSidecar: loopback or the pod's own address is the sidecar, any other address is the client directly", () => {
    const via = probe({ reach: true, viaSidecar: true }, 'tcp');
    expect(evaluate(via, attempt({ kind: 'ok' }, { from: '127.0.0.6' }))).toMatchObject({ matched: true });
    expect(evaluate(via, attempt({ kind: 'ok' }, { from: SERVER_POD }))).toMatchObject({ matched: true });
    expect(evaluate(via, attempt({ kind: 'ok' }, { from: '::ffff:127.0.0.1' }))).toMatchObject({ matched: true });
    const direct = evaluate(via, attempt({ kind: 'ok' }, { from: CLIENT_POD }));
    expect(direct.kind === 'judged' && direct.reason).toBe(
      "expected the request to pass through the destination's sidecar, but the application saw the client's address 10.77.0.2 directly",
    );
    const e = evaluate(probe({ reach: true, viaSidecar: false }, 'tcp'), attempt({ kind: 'ok' }, { from: '127.0.0.6' }));
    expect(e.kind === 'judged' && e.reason).toBe('expected the application to see the client directly, but it saw 127.0.0.6 (its sidecar)');
  });

  it('checks the HTTP status the client got', () => {
    const e = evaluate(probe({ reach: true, status: 200 }), attempt({ kind: 'http', status: 503, body: 'no healthy upstream' }, {}));
    expect(e.kind === 'judged' && e.reason).toBe('expected HTTP status 200, got 503');
    const none = evaluate(probe({ reach: true, status: 200 }, 'tcp'), attempt({ kind: 'ok' }, {}));
    expect(none.kind === 'judged' && none.reason).toBe('expected HTTP status 200, but the exchange completed');
  });

  it('joins several failed expectations into one sentence', () => {
    const e = evaluate(probe({ reach: true, mtls: true, status: 200 }), attempt({ kind: 'http', status: 500, body: '' }, {}));
    expect(e.kind === 'judged' && e.reason).toBe('expected mutual TLS, but the application saw no peer identity; expected HTTP status 200, got 500');
    expect(e.kind === 'judged' && e.checks.map((c) => [c.field, c.ok])).toEqual([
      ['reach', true],
      ['mtls', false],
      ['status', false],
    ]);
  });

  it('describes a 403 from the sidecar with its server and body', () => {
    const e = evaluate(
      probe({ reach: false, failure: 'reset' }),
      attempt({ kind: 'http', status: 403, server: 'istio-envoy', body: 'RBAC: access denied' }),
    );
    expect(e.kind === 'judged' && e.reason).toBe('expected a TCP reset, the client got HTTP 403 from istio-envoy ("RBAC: access denied")');
  });

  it('classifies outcomes', () => {
    expect(classify({ kind: 'ok', status: 204 })).toEqual({ class: 'ok' });
    expect(classify({ kind: 'ok', status: 404 })).toEqual({ class: 'http-404' });
    expect(classify({ kind: 'icmp', reply: true })).toEqual({ class: 'ok' });
    expect(classify({ kind: 'error', errno: 'EPERM', message: 'x' })).toEqual({ class: 'unreachable' });
  });
});
