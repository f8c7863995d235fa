/** The format addition http.jwt (scenario-v1-additions.md), through the loader: accepted forms and clear errors. */
import { afterAll, describe, expect, it } from '@jest/globals';
import { textLoader } from '../support/load-text.js';

const { load, cleanup } = textLoader('mp-jwt-');
afterAll(cleanup);

const doc = (http: string, protocol = 'http', expect = '{reach: true}') => `apiVersion: meshprobe.io/v1
kind: Scenario
metadata: {name: jwt}
spec:
  namespaces: [{name: app}]
  workloads:
    - {name: client, namespace: app}
    - {name: server, namespace: app, ports: [{port: 8080, protocol: http}, {port: 8443, protocol: https}]}
  probes:
    - name: p
      from: app/client
      to: app/server
      port: ${protocol === 'https' ? 8443 : 8080}
      protocol: ${protocol}
      http:
${http}
      expect: ${expect}
`;

describe('http.jwt', () => {
  it("accepts the spec's example and fills the default issuer", async () => {
    const r = await load(doc('        jwt: {issuer: lab, subject: alice, claims: {group: admins}}'));
    expect(r.errors).toEqual([]);
    expect(r.scenarios[0]?.scenario.spec.probes[0]?.http?.jwt).toEqual({ issuer: 'lab', subject: 'alice', claims: { group: 'admins' } });
    const d = await load(doc('        jwt: {subject: bob}'));
    expect(d.scenarios[0]?.scenario.spec.probes[0]?.http?.jwt).toEqual({ issuer: 'lab', subject: 'bob' });
  });

  it('accepts every option: audiences, presenter, list and nested claims, expired, signedBy, header/prefix, param', async () => {
    const r = await load(
      doc(`        jwt:
          issuer: testing@secure.istio.io
          subject: alice
          audiences: [app.example.com]
          presenter: client-1
          claims: {groups: [group1, group2], nested: {key1: [valueA]}, level: 3, admin: true}
          expired: true
          signedBy: other
          header: x-jwt-token
          prefix: "Token "`),
    );
    expect(r.errors).toEqual([]);
    expect((await load(doc('        jwt: {subject: a, param: access_token}'))).errors).toEqual([]);
    // (a scenario with only this probe lacks a positive control; that is the only complaint)
    const failure = await load(doc('        jwt: {subject: a}', 'http', '{reach: false, failure: http-401}'));
    expect(failure.errors.filter((e) => !/no positive control/.test(e))).toEqual([]);
  });

  it('names the field of each bad value (file:line:col)', async () => {
    const cases: Array<[string, RegExp]> = [
      ['        jwt: {issuer: lab}', /subject/],
      ['        jwt: {subject: alice, expired: yes}', /expired/],
      ['        jwt: {subject: alice, signedBy: mallory}', /signedBy/],
      ['        jwt: {subject: alice, kid: x}', /kid/],
      ['        jwt: {subject: "a\\r\\nb"}', /subject.*printable/],
      ['        jwt: {subject: alice, claims: {sub: bob}}', /claim "sub" is set by the token's own fields/],
      ['        jwt: {subject: alice, claims: {"bad name": x}}', /claim name/],
      ['        jwt: {subject: alice, claims: {a: {b: {c: d}}}}', /claims/],
      ['        jwt: {subject: alice, header: "x y"}', /header/],
      ['        jwt: {subject: alice, param: "a&b"}', /param/],
      ['        jwt: {subject: alice, param: token, header: x-t}', /jwt\.header cannot be given with jwt\.param/],
      ['        jwt: {subject: alice, prefix: "Bearer "}', /jwt\.prefix needs jwt\.header/],
      ['        jwt: {subject: alice, header: Content-Length}', /cannot travel in content-length/],
      ['        headers: {authorization: x}\n        jwt: {subject: alice}', /already sends a authorization header/],
    ];
    for (const [http, message] of cases) {
      const r = await load(doc(http));
      expect(r.errors.length).toBeGreaterThan(0);
      expect(r.errors.join('\n')).toMatch(/:\d+:\d+: /);
      expect(r.errors.join('\n')).toMatch(message);
    }
  });

  it('is for http probes only, and http-401 for http/https probes only', async () => {
    expect((await load(doc('        jwt: {subject: alice}', 'https'))).errors.join('\n')).toMatch(/http\.jwt needs an http probe/);
    const tcp = doc('', 'tcp', '{reach: false, failure: http-401}').replace('      http:\n\n', '').replace('port: 8080', 'port: 8080');
    expect((await load(tcp)).errors.join('\n')).toMatch(/failure http-401 needs an http or https probe/);
  });
});
