/** The format additions spec.mesh.pathNormalization and http.raw (scenario-v1-additions.md), through the loader. */
import { afterAll, describe, expect, it } from '@jest/globals';
import { textLoader } from '../support/load-text.js';

const { load, cleanup } = textLoader('mp-raw-');
afterAll(cleanup);

const doc = (mesh: string, http: string) => `apiVersion: meshprobe.io/v1
kind: Scenario
metadata: {name: raw}
spec:
${mesh}  namespaces: [{name: app}]
  workloads:
    - {name: client, namespace: app}
    - {name: server, namespace: app, ports: [{port: 8080, protocol: http}]}
  probes:
    - name: p
      from: app/client
      to: app/server
      port: 8080
      protocol: http
      http:
${http}
      expect: {reach: true}
`;

describe('http.raw and spec.mesh.pathNormalization', () => {
  it('accepts every raw form of issue 19 and each normalization option', async () => {
    for (const option of ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES']) {
      const r = await load(
        doc(
          `  mesh: {pathNormalization: ${option}}\n`,
          `        raw:
          method: get
          requestTarget: "http://Server.App.:8080/public/..%2f%2E%2E\\\\admin//x?y#z"
          host: "SERVER.app.:8080"
          headers: [[x-a, "1"], [X-A, "2"], ["x y", z]]
          version: "1.0"`,
        ),
      );
      expect(r.errors).toEqual([]);
      expect(r.scenarios[0]?.scenario.spec.mesh?.pathNormalization).toBe(option);
      expect(r.scenarios[0]?.scenario.spec.probes[0]?.http?.raw).toEqual({
        method: 'get',
        requestTarget: 'http://Server.App.:8080/public/..%2f%2E%2E\\admin//x?y#z',
        host: 'SERVER.app.:8080',
        headers: [
          ['x-a', '1'],
          ['X-A', '2'],
          ['x y', 'z'],
        ],
        version: '1.0',
      });
    }
  });

  it('raw excludes http.method/path/headers, with the field named', async () => {
    const r = await load(
      doc(
        '',
        `        path: /x
        raw: {method: GET, requestTarget: /}`,
      ),
    );
    expect(r.errors.join('\n')).toMatch(/:\d+:\d+: .*http\.path cannot be given with http\.raw/);
  });

  it('refuses what would break the request line or a header line, and unknown options', async () => {
    const bad = [
      doc('', `        raw: {method: GET, requestTarget: "/a b"}`),
      doc('', `        raw: {method: "GE T", requestTarget: /}`),
      doc('', `        raw: {method: GET, requestTarget: /, headers: [["a:b", c]]}`),
      doc('', `        raw: {method: GET, requestTarget: /, headers: [[a, "c\\r\\nd: e"]]}`),
      doc('', `        raw: {method: GET, requestTarget: /, version: "2"}`),
      doc('  mesh: {pathNormalization: DEFAULT}\n', `        path: /`),
    ];
    for (const text of bad) expect((await load(text)).errors.length).toBeGreaterThan(0);
  });
});
