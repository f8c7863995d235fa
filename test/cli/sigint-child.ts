/**
 * Child process for the SIGINT test: the real `meshprobe run` command code over the scripted target, with a
 * probe that never converges so the run is mid-probe when the signal comes. Writes the fake's calls on exit.
 */
import { writeFileSync } from 'node:fs';
import { runCommand } from '../../src/cli/run.js';
import { FakeTarget, loaded, probe } from '../engine/fake-target.js';

const [stateFile, reportDir] = process.argv.slice(2);
const target = new FakeTarget({ probeDelayMs: 20 });
// Tells the test the run is under way (something deployed), so the signal comes mid-run however slow the machine.
const announce = setInterval(() => {
  if (target.calls.deployed.length) {
    process.stderr.write('child: deployed\n');
    clearInterval(announce);
  }
}, 20);
const scenarios = ['a', 'b', 'c'].map((n) => loaded(n, [probe('ok'), probe('never', { expect: { reach: false } })]));
const status = await runCommand(
  [],
  { target: 'lab', reportDir, consecutive: 3, settleTimeout: 600_000, parallel: 2 },
  { target, load: async () => ({ scenarios, errors: [] }) },
);
clearInterval(announce);
writeFileSync(stateFile, JSON.stringify({ status, calls: target.calls, leftBehind: target.leftBehind }));
process.exitCode = status;
