import { progress, signalProcess, type RunGuard } from './bench-run.js';
import { startHub, type HubProcess, type StartHubOptions } from './hub-process.js';

/**
 * A hub for the length of one measurement: started under the run's abort signal, `use` run with
 * it, then stopped (SIGTERM, the worker first) whatever happened; a hard exit meanwhile stops it
 * through the guard's last resorts.
 */
export async function withHub<T>(guard: RunGuard, options: Omit<StartHubOptions, 'signal'>, use: (hub: HubProcess) => Promise<T>): Promise<T> {
  const hub = await startHub({ ...options, signal: guard.signal });
  const forget = guard.lastResort(() => signalProcess(hub.pid, 'SIGTERM'));
  try {
    progress(`hub at ${hub.url} (pid ${hub.pid})${hub.workerPid === undefined ? '' : `, worker pid ${hub.workerPid}`}`);
    return await use(hub);
  } finally {
    progress(`stopping ${hub.workerPid === undefined ? 'the hub' : 'the worker and the hub'} (SIGTERM)`);
    await hub.stop();
    forget();
  }
}
