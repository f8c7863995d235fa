/**
 * The first code of a pod thread (bundled to dist/lab/meshprobe-pod-thread.mjs): become the pod (namespace,
 * uid, capabilities), resolve names from the pod's hosts file, then run the program (the probe agent or the
 * sidecar) as its process would run, with the same arguments.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { useHostsTable } from './hosts.js';
import { becomePod, type ThreadIdentity } from './identity.js';

export interface PodThreadData extends ThreadIdentity {
  /** The program's file; its arguments are the worker's argv. */
  program: string;
  hosts: string;
}

const data = workerData as PodThreadData;
const { tid } = becomePod(data);
useHostsTable(data.hosts);
parentPort?.postMessage({ tid });
await import(pathToFileURL(data.program).href);
