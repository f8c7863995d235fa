/** A run that owns a lab and then hangs, to be killed with -9 by cleanup.integration.test.ts. */
import { LabTarget } from '../../../src/targets/lab/index.js';
import type { LabDeployment } from '../../../src/targets/lab/deploy.js';
import { makeScenario } from './helpers.js';

const scenario = makeScenario('killed', {
  workloads: [
    { name: 'server', namespace: 'app', ports: [{ port: 8080, protocol: 'http' }] },
    { name: 'client', namespace: 'legacy' },
  ],
  probes: [{ name: 'p', from: 'legacy/client', to: 'app/server', port: 8080, protocol: 'http', expect: { reach: true } }],
});
const target = new LabTarget();
await target.prepare();
const d = (await target.deploy(scenario)) as LabDeployment;
process.stdout.write(`${d.labId}\n`);
setInterval(() => undefined, 60_000);
