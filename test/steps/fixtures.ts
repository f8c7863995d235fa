/** An upstream-style policy lifecycle (istio/istio authz tests: a policy applied, updated, then deleted) as steps. */
export const LIFECYCLE = `apiVersion: meshprobe.io/v1
kind: Scenario
metadata: {name: policy-lifecycle}
spec:
  namespaces: [{name: app}]
  workloads:
    - {name: client, namespace: app}
    - {name: web, namespace: app, ports: [{port: 8080, protocol: http}]}
  steps:
    - name: deny-admin
      apply:
        - apiVersion: security.istio.io/v1
          kind: AuthorizationPolicy
          metadata: {name: web-deny, namespace: app}
          spec:
            selector: {matchLabels: {app: web}}
            action: DENY
            rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
      probes:
        - {name: public-open, from: app/client, to: app/web, port: 8080, protocol: http, http: {path: /public}, expect: {reach: true}}
        - {name: admin-denied, from: app/client, to: app/web, port: 8080, protocol: http, http: {path: /admin}, expect: {reach: false, failure: http-403}}
    - name: updated-policy
      apply:
        - apiVersion: security.istio.io/v1
          kind: AuthorizationPolicy
          metadata: {name: web-deny, namespace: app}
          spec:
            selector: {matchLabels: {app: web}}
            action: DENY
            rules: [{to: [{operation: {paths: ["/public*"]}}]}]
      probes:
        - {name: admin-open-after-update, from: app/client, to: app/web, port: 8080, protocol: http, http: {path: /admin}, expect: {reach: true}}
        - {name: public-denied-after-update, from: app/client, to: app/web, port: 8080, protocol: http, http: {path: /public}, expect: {reach: false, failure: http-403}}
    - name: deleted-policy
      delete: [{apiVersion: security.istio.io/v1, kind: AuthorizationPolicy, namespace: app, name: web-deny}]
      probes:
        - {name: public-open-after-delete, from: app/client, to: app/web, port: 8080, protocol: http, http: {path: /public}, expect: {reach: true}}
        - {name: admin-open-after-delete, from: app/client, to: app/web, port: 8080, protocol: http, http: {path: /admin}, expect: {reach: true}}
`;
