/** The pure rules of the agent: XFCC parsing, which identity counts, the bounded store, input checks, classification. */
import { describe, expect, it } from '@jest/globals';
import { classifyError, classifyHttp, type ConnectionState } from '../../src/agent/classify.js';
import { classifyPing } from '../../src/agent/call-icmp.js';
import { parseProbeRequests, parseServeConfig } from '../../src/agent/config.js';
import { parseXfcc, peerIdentity, uriSanOf } from '../../src/agent/observe.js';
import { ObservationStore } from '../../src/agent/store.js';
import type { Observation } from '../../src/agent/types.js';

describe('X-Forwarded-Client-Cert', () => {
  it('parses the Istio form, quoted values with separators inside, and uses the nearest proxy element', () => {
    const raw =
      'By=spiffe://cluster.local/ns/gw/sa/gw;URI=spiffe://cluster.local/ns/x/sa/outer,' +
      'By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=ab12;Subject="CN=a, O=b;c";URI=spiffe://cluster.local/ns/foo/sa/sleep';
    expect(parseXfcc(raw)).toEqual({
      raw,
      by: 'spiffe://cluster.local/ns/foo/sa/httpbin',
      hash: 'ab12',
      subject: 'CN=a, O=b;c',
      uri: 'spiffe://cluster.local/ns/foo/sa/sleep',
    });
  });
  it('keeps garbage as raw only', () => {
    expect(parseXfcc('nonsense')).toEqual({ raw: 'nonsense' });
  });
  it('reads the URI SAN from node subjectaltname', () => {
    expect(uriSanOf('DNS:a.example, URI:spiffe://td/ns/a/sa/b')).toBe('spiffe://td/ns/a/sa/b');
    expect(uriSanOf('DNS:a.example')).toBeUndefined();
  });
});

describe('peer identity', () => {
  const xfcc = parseXfcc('URI=spiffe://td/ns/a/sa/claimed');
  it('never takes a header as mTLS evidence unless behind a sidecar', () => {
    expect(peerIdentity(undefined, xfcc, false)).toEqual({ identity: 'spiffe://td/ns/a/sa/claimed', basis: 'header-unverified' });
    expect(peerIdentity(undefined, xfcc, true)).toEqual({ identity: 'spiffe://td/ns/a/sa/claimed', basis: 'xfcc-from-sidecar' });
  });
  it('prefers a certificate the agent received itself over any header', () => {
    expect(peerIdentity('spiffe://td/ns/a/sa/cert', xfcc, true)).toEqual({ identity: 'spiffe://td/ns/a/sa/cert', basis: 'tls-client-certificate' });
    expect(peerIdentity(undefined, undefined, true)).toBeUndefined();
  });
});

describe('observation store', () => {
  const obs = (nonce: string, port: number): Observation => ({
    nonce,
    protocol: 'tcp',
    source: { address: '10.0.0.1', port },
    local: { address: '10.0.0.2', port: 80 },
    at: '',
  });
  it('keeps every arrival per nonce and forgets the oldest beyond capacity', () => {
    const store = new ObservationStore(3);
    store.add(obs('a', 1));
    store.add(obs('a', 2));
    store.add(obs('b', 3));
    expect(store.query(['a']).a.map((o) => o.source.port)).toEqual([1, 2]);
    store.add(obs('c', 4));
    store.add(obs('c', 5));
    expect(store.query(['a', 'b', 'c'])).toEqual({ a: [], b: [obs('b', 3)], c: [obs('c', 4), obs('c', 5)] });
    expect(store.size).toBe(3);
  });
});

describe('input checks', () => {
  it('names every bad field of a serve config', () => {
    const r = parseServeConfig({
      ports: [
        { port: 0, protocol: 'http' },
        { port: 443, protocol: 'https' },
        { port: 53, protocol: 'dns' },
      ],
      control: '',
    });
    expect(r.ok).toBe(false);
    const errors = r.ok ? [] : r.errors;
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringContaining('ports[0].port'),
        expect.stringContaining('ports[1]: an https port needs certFile and keyFile'),
        expect.stringContaining('ports[2].protocol'),
        expect.stringContaining('control'),
      ]),
    );
  });
  it('accepts the same port number once for tcp-family and once for udp', () => {
    expect(
      parseServeConfig({
        ports: [
          { port: 53, protocol: 'tcp' },
          { port: 53, protocol: 'udp' },
        ],
        control: '/s',
      }).ok,
    ).toBe(true);
    expect(
      parseServeConfig({
        ports: [
          { port: 80, protocol: 'tcp' },
          { port: 80, protocol: 'http' },
        ],
        control: '/s',
      }).ok,
    ).toBe(false);
  });
  it('reads a JSON array or JSON lines and rejects a probe without a port', () => {
    const one = { nonce: 'a', protocol: 'icmp', host: '10.0.0.1' };
    expect(parseProbeRequests(JSON.stringify([one]))).toEqual({ ok: true, value: [one] });
    expect(parseProbeRequests(`${JSON.stringify(one)}\n\n${JSON.stringify(one)}\n`)).toMatchObject({ ok: true, value: [one, one] });
    expect(parseProbeRequests(JSON.stringify([{ nonce: 'a', protocol: 'tcp', host: 'h' }]))).toMatchObject({
      ok: false,
      errors: [expect.stringContaining('request[0].port')],
    });
    expect(parseProbeRequests('{"nonce":')).toMatchObject({ ok: false });
  });
});

describe('classification', () => {
  const connected: ConnectionState = { connected: true, tlsExpected: false, tlsDone: false, received: 7 };
  const handshaking: ConnectionState = { ...connected, tlsExpected: true, received: 0 };
  it.each([
    [{ code: 'ECONNREFUSED', syscall: 'connect', message: 'x' }, connected, { kind: 'refused' }],
    [{ code: 'ECONNRESET', syscall: 'read', message: 'read ECONNRESET' }, connected, { kind: 'reset', afterBytes: 7 }],
    [{ code: 'ECONNRESET', message: 'socket hang up' }, connected, { kind: 'eof' }],
    [
      { code: 'ECONNRESET', message: 'Client network socket disconnected before secure TLS connection was established' },
      handshaking,
      { kind: 'eof' },
    ],
    [
      { code: 'ETIMEDOUT', syscall: 'connect', message: 'x' },
      { ...connected, connected: false },
      { kind: 'timeout', phase: 'connect' },
    ],
    [
      { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' },
      handshaking,
      { kind: 'tls', reason: 'DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate' },
    ],
    [
      { code: 'EHOSTUNREACH', syscall: 'connect', message: 'connect EHOSTUNREACH' },
      { ...connected, connected: false },
      { kind: 'error', errno: 'EHOSTUNREACH', message: 'connect EHOSTUNREACH' },
    ],
  ])('%j → the expected outcome', (err, state, outcome) => {
    expect(classifyError(err, state)).toEqual(outcome);
  });
  it('does not take a marked answer for another nonce as ok', () => {
    const body = JSON.stringify({ nonce: 'other' });
    expect(classifyHttp(200, { 'x-meshprobe-agent': '1' }, body, 'mine')).toMatchObject({ kind: 'http', status: 200 });
    expect(classifyHttp(502, { server: 'envoy' }, 'upstream connect error', 'mine')).toEqual({
      kind: 'http',
      status: 502,
      server: 'envoy',
      body: 'upstream connect error',
    });
  });
  it('reads ping: a reply with its rtt, no reply, or ping failing to run', () => {
    const out = '64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.061 ms\n';
    expect(classifyPing(0, out, '')).toEqual({ kind: 'icmp', reply: true, rttMs: 0.061 });
    expect(classifyPing(1, '1 packets transmitted, 0 received', '')).toEqual({ kind: 'icmp', reply: false });
    expect(classifyPing(2, '', 'ping: connect: Network is unreachable\n')).toEqual({
      kind: 'error',
      message: 'ping: connect: Network is unreachable',
    });
  });
});
