/**
 * Scenario format v1 as a zod schema. This is the single source of truth for the format: the loader validates
 * with it, the TypeScript types are inferred from it and schema/scenario-v1.schema.json is generated from it.
 * Cross-field rules (references, positive control, …) live in rules.ts; they need the whole document.
 */
import semver from 'semver';
import { z } from 'zod';
import { PATH_NORMALIZATIONS } from '../model/http-normalization.js';
import { LISTEN_PROTOCOLS, PROBE_PROTOCOLS } from '../agent/types.js';
import * as values from './values.js';

export const API_VERSION = 'meshprobe.io/v1';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const dnsLabel = z
  .string()
  .max(63, 'must be at most 63 characters (DNS-1123 label)')
  .regex(DNS1123_LABEL, 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit');

export const dnsSubdomain = z
  .string()
  .max(253, 'must be at most 253 characters (DNS-1123 subdomain)')
  .regex(DNS1123_SUBDOMAIN, 'must be a DNS name: lower-case DNS-1123 labels separated by "."');

export const LINUX_CAPABILITIES = [
  'AUDIT_CONTROL',
  'AUDIT_READ',
  'AUDIT_WRITE',
  'BLOCK_SUSPEND',
  'BPF',
  'CHECKPOINT_RESTORE',
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'IPC_LOCK',
  'IPC_OWNER',
  'KILL',
  'LEASE',
  'LINUX_IMMUTABLE',
  'MAC_ADMIN',
  'MAC_OVERRIDE',
  'MKNOD',
  'NET_ADMIN',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_RAW',
  'PERFMON',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYSLOG',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_CHROOT',
  'SYS_MODULE',
  'SYS_NICE',
  'SYS_PACCT',
  'SYS_PTRACE',
  'SYS_RAWIO',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'WAKE_ALARM',
] as const;

export const TARGETS = ['lab', 'kind', 'existing'] as const;
export type TargetName = (typeof TARGETS)[number];
export const FAILURES = ['reset', 'timeout', 'refused', 'tls', 'http-401', 'http-403', 'http-502', 'any'] as const;

/** A string record whose keys and values pass `check` (a values.ts check), each issue at its own key. */
function checkedRecord(check: (key: string, value: string) => { at: 'key' | 'value'; message: string } | undefined) {
  return z.record(z.string(), z.string()).superRefine((record, ctx) => {
    for (const [key, value] of Object.entries(record)) {
      const issue = check(key, value);
      if (issue) ctx.addIssue({ code: 'custom', path: [key], message: issue.message, params: { at: issue.at } });
    }
  });
}

const keyOrValue = (keyMessage: string | undefined, valueMessage: string | undefined) =>
  keyMessage ? { at: 'key' as const, message: keyMessage } : valueMessage ? { at: 'value' as const, message: valueMessage } : undefined;

/** Kubernetes label syntax (IsQualifiedName keys, IsValidLabelValue values). */
export const labels = checkedRecord((k, v) => keyOrValue(values.qualifiedName(k), values.labelValue(v)));

/** Annotation keys are qualified names; the capture annotations the lab acts on have their values checked too. */
export const annotations = checkedRecord((k, v) =>
  keyOrValue(values.qualifiedName(k), k.startsWith(values.SIDECAR_ANNOTATION_PREFIX) ? values.sidecarAnnotation(k, v) : undefined),
);

/** What a client can legally send (RFC 9110); a deliberately malformed request is not expressible. */
export const httpRequest = z.strictObject({
  // Regexes rather than refinements so the JSON Schema carries them (the same rules as values.httpToken/httpPath).
  method: z.string().regex(values.TOKEN, "must be an HTTP method: letters, digits and !#$%&'*+-.^_`|~ only (RFC 9110 token)").optional(),
  path: z
    .string()
    .regex(values.HTTP_PATH, 'must start with "/" and hold only visible ASCII: no spaces or control characters (percent-encode the rest)')
    .optional(),
  headers: checkedRecord((k, v) => keyOrValue(values.httpToken(k, 'header name'), values.headerValue(v))).optional(),
});

const port = z.number().int('must be an integer').min(1, 'must be a port from 1 to 65535').max(65535, 'must be a port from 1 to 65535');

export const when = z
  .strictObject({
    istio: z
      .string()
      .min(1)
      .refine((r) => semver.validRange(r) !== null, 'must be a semver range such as ">=1.13" or "1.20 - 1.22"')
      .optional()
      .describe('semver range over the Istio version of the target, e.g. ">=1.13"'),
    targets: z.array(z.enum(TARGETS)).min(1).optional().describe('targets that can run it; default: all'),
  })
  .describe('the scenario (or probe) is SKIPPED, with the reason reported, where this does not hold');

export const namespace = z.strictObject({
  name: dnsLabel,
  sidecarInjection: z.boolean().default(true),
  labels: z
    .record(z.string(), z.string())
    .optional()
    .describe('extra namespace labels, for namespaceSelector (kubernetes.io/metadata.name is always set; istio-injection follows sidecarInjection)'),
});

export const workloadPort = z.strictObject({
  port,
  protocol: z.enum(LISTEN_PROTOCOLS),
  // A regex rather than a refinement so the JSON Schema carries it (the same rule as values.portName).
  name: z
    .string()
    .max(15, 'must be at most 15 characters (IANA_SVC_NAME)')
    .regex(
      values.PORT_NAME,
      'must be a port name (IANA_SVC_NAME): lower-case letters, digits and "-", with a letter, no leading, trailing or double "-"',
    )
    .optional()
    .describe('Service and container port name, usable as a NetworkPolicy named port; default <protocol>-<port> (Service), p<port> (container)'),
});

export const workload = z.strictObject({
  name: dnsLabel,
  namespace: dnsLabel,
  serviceAccount: dnsLabel.optional().describe("default: the workload's name"),
  sidecar: z.boolean().optional().describe("default: the namespace's sidecarInjection"),
  labels: labels.optional(),
  annotations: annotations.optional().describe('pod annotations; traffic.sidecar.istio.io/* values are checked'),
  runAsUser: z.number().int('must be an integer').min(0).max(65535).optional(),
  capabilities: z.array(z.enum(LINUX_CAPABILITIES)).optional(),
  ports: z.array(workloadPort).default([]),
});

export const externalPort = z.strictObject({
  port,
  protocol: z.enum(LISTEN_PROTOCOLS),
  certificate: z.enum(['trusted', 'untrusted']).optional().describe('https only; default trusted'),
});

export const external = z.strictObject({
  name: dnsSubdomain.describe('DNS name the workloads use'),
  ports: z.array(externalPort).min(1),
});

export const resource = z
  .looseObject({
    apiVersion: z.string().min(1),
    kind: z.string().min(1),
    metadata: z.looseObject({ name: z.string().min(1), namespace: z.string().optional() }),
  })
  .describe('a raw Kubernetes or Istio manifest; checked against the schema of its kind');

export const expectation = z.strictObject({
  reach: z.boolean().describe('did the request reach the destination application?'),
  failure: z.enum(FAILURES).optional().describe('only with reach: false; default any'),
  mtls: z.boolean().optional().describe('only with reach: true: arrived over mutual TLS'),
  peer: z
    .string()
    .min(1)
    .superRefine((s, ctx) => {
      const message = values.noControl(s);
      if (message) ctx.addIssue({ code: 'custom', message });
    })
    .optional()
    .describe('the exact peer identity the server saw'),
  viaSidecar: z.boolean().optional().describe("only with reach: true: went through the destination's sidecar"),
  status: z.number().int().min(100).max(599).optional().describe('HTTP status the client got'),
});

/** RFC 9110 token characters plus inner spaces (a raw request may carry a header name Envoy rejects for its space). */
const RAW_HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]([ !#$%&'*+\-.^_`|~0-9A-Za-z]*[!#$%&'*+\-.^_`|~0-9A-Za-z])?$/;
/** Visible ASCII: a raw request is written byte for byte, but never with bytes that would end its line early. */
const VISIBLE = /^[\x21-\x7e]+$/;

export const rawRequest = z
  .strictObject({
    method: z.string().max(32).regex(VISIBLE, 'must be visible ASCII without spaces (any case: sent as written)'),
    requestTarget: z.string().max(2048).regex(VISIBLE, 'must be visible ASCII without spaces, sent verbatim (origin-form, absolute-form or *)'),
    host: z
      .string()
      .max(255)
      .regex(VISIBLE, 'must be visible ASCII without spaces')
      .optional()
      .describe("the Host header as written; default the destination's service name and port (with version 1.0: no Host header)"),
    headers: z
      .array(
        z.tuple([
          z.string().max(128).regex(RAW_HEADER_NAME, 'must be a header name (token characters; inner spaces allowed)'),
          z
            .string()
            .max(4096)
            .regex(/^[\x20-\x7e\t]*$/, 'must be printable ASCII on one line'),
        ]),
      )
      .optional()
      .describe('[name, value] pairs in order; duplicates allowed'),
    version: z.enum(['1.1', '1.0']).default('1.1'),
  })
  .describe('the request exactly as written, byte for byte (scenario-v1-additions: http.raw)');

/** Printable ASCII on one line: a JWT claim travels in a header, so nothing may end it early. */
const PRINTABLE = /^[\x20-\x7e]*$/;
const jwtText = (max: number) => z.string().min(1).max(max).regex(PRINTABLE, 'must be printable ASCII on one line');
const claimText = z.string().max(1024).regex(PRINTABLE, 'must be printable ASCII on one line');
const claimScalar = z.union([claimText, z.number(), z.boolean()]);
const claimValue = z.union([claimScalar, z.array(claimText).max(64)]);
/** Claims the token carries from other fields (or the issuer sets itself); naming them in `claims` is an error. */
export const RESERVED_CLAIMS = ['iss', 'sub', 'aud', 'azp', 'exp', 'iat', 'nbf'] as const;
const CLAIM_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

export const jwtToken = z
  .strictObject({
    issuer: jwtText(256).default('lab').describe('the `iss` claim; default "lab"'),
    subject: jwtText(256).describe('the `sub` claim; the request principal is `<issuer>/<subject>`'),
    audiences: z.array(jwtText(256)).min(1).max(16).optional().describe('the `aud` claim'),
    presenter: jwtText(256).optional().describe('the `azp` claim (request.auth.presenter)'),
    claims: z
      .record(z.string(), z.union([claimValue, z.record(z.string(), claimValue)]))
      .superRefine((claims, ctx) => {
        for (const [name, value] of Object.entries(claims)) {
          const reserved = (RESERVED_CLAIMS as readonly string[]).includes(name);
          if (reserved || !CLAIM_NAME.test(name)) {
            const message = reserved
              ? `claim "${name}" is set by the token's own fields (issuer, subject, audiences, presenter, expired)`
              : 'a claim name is 1 to 64 letters, digits, "_", ".", ":" or "-"';
            ctx.addIssue({ code: 'custom', path: [name], message, params: { at: 'key' } });
          }
          if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
            for (const inner of Object.keys(value))
              if (!CLAIM_NAME.test(inner))
                ctx.addIssue({
                  code: 'custom',
                  path: [name, inner],
                  message: 'a claim name is 1 to 64 letters, digits, "_", ".", ":" or "-"',
                  params: { at: 'key' },
                });
          }
        }
      })
      .optional()
      .describe('more claims: strings, numbers, booleans, lists of strings, or one level of nested objects of those'),
    expired: z.boolean().optional().describe('true: the token expired an hour ago (Envoy: 401 "Jwt is expired")'),
    signedBy: z
      .enum(['lab', 'other'])
      .optional()
      .describe('other: signed by a key no JWKS holds, under the run key\'s kid (Envoy: 401 "Jwt verification fails"); default lab'),
    header: z
      .string()
      .max(128)
      .regex(values.TOKEN, 'must be a header name (RFC 9110 token)')
      .optional()
      .describe('the header that carries the token; default Authorization (with prefix "Bearer ")'),
    prefix: z.string().max(64).regex(PRINTABLE, 'must be printable ASCII on one line').optional().describe('written before the token in `header`'),
    param: z
      .string()
      .max(64)
      .regex(/^[A-Za-z0-9_.~-]+$/, 'must be a query parameter name: letters, digits, "_", ".", "~" or "-"')
      .optional()
      .describe('carry the token in this query parameter instead of a header'),
  })
  .describe("scenario-v1-additions: http.jwt, a token the target's issuer signs (docs/scenario-format.md)");

export const probe = z.strictObject({
  name: dnsLabel,
  from: z.string().min(1).describe('namespace/workload'),
  to: z.string().min(1).describe("namespace/workload, or an external's name"),
  port: port.optional(),
  protocol: z.enum(PROBE_PROTOCOLS),
  http: httpRequest.extend({ raw: rawRequest.optional(), jwt: jwtToken.optional() }).optional(),
  as: z.strictObject({ user: z.number().int('must be an integer').min(0).max(65535) }).optional(),
  bypass: z.enum(['flush-capture']).optional(),
  expect: expectation,
  when: when.optional(),
});

/** What a step deletes: one manifest applied earlier in the scenario, by kind, namespace and name. */
export const resourceRef = z.strictObject({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  namespace: z.string().min(1).optional(),
  name: z.string().min(1),
});

export const step = z
  .strictObject({
    name: dnsLabel,
    apply: z.array(resource).default([]).describe('manifests created or updated (server-side apply on clusters)'),
    delete: z.array(resourceRef).default([]).describe('manifests applied earlier in the scenario, deleted'),
    probes: z.array(probe).default([]).describe('judged after this step converges; needs its own positive control'),
  })
  .describe('scenario-v1-additions: steps run in order, each changing resources and then judging its probes');

export const mesh = z.strictObject({
  outboundTrafficPolicy: z.enum(['ALLOW_ANY', 'REGISTRY_ONLY']).optional(),
  pathNormalization: z.enum(PATH_NORMALIZATIONS).optional().describe("meshConfig.pathNormalization.normalization; default BASE, as Istio's"),
});

export const scenario = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Scenario'),
  metadata: z.strictObject({
    name: dnsLabel,
    title: z.string().optional(),
    claim: z.string().optional(),
    source: z.string().optional(),
    tags: z.array(z.string().min(1)).optional(),
  }),
  spec: z.strictObject({
    when: when.optional(),
    mesh: mesh.optional(),
    namespaces: z.array(namespace).min(1),
    workloads: z.array(workload).min(1),
    externals: z.array(external).default([]),
    resources: z.array(resource).default([]),
    // At least one probe, unless spec.steps carries them (rules.ts: steps exclude top-level probes).
    probes: z.array(probe).default([]),
    steps: z.array(step).min(1).optional().describe('top-level resources are applied before the first step'),
  }),
});

export type Scenario = z.output<typeof scenario>;
export type ScenarioInput = z.input<typeof scenario>;
export type Namespace = Scenario['spec']['namespaces'][number];
export type Workload = Scenario['spec']['workloads'][number];
export type WorkloadPort = Workload['ports'][number];
export type External = Scenario['spec']['externals'][number];
export type Resource = Scenario['spec']['resources'][number];
export type Probe = Scenario['spec']['probes'][number];
export type Step = NonNullable<Scenario['spec']['steps']>[number];
export type ResourceRef = Step['delete'][number];
export type Expectation = Probe['expect'];
export type RawRequest = NonNullable<NonNullable<Probe['http']>['raw']>;
export type JwtToken = NonNullable<NonNullable<Probe['http']>['jwt']>;
export type When = z.output<typeof when>;
export type Failure = (typeof FAILURES)[number];
