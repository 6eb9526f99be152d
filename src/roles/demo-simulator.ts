import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * The provider simulator (tests/simulator) for `npm run demo`: it answers as Shopify, Stripe, Etsy
 * and TikTok Shop over seeded demo accounts, so the demo can show integration syncs offline. src/
 * must not import tests/, so it runs as a child process and tells us where it listens and which
 * credentials to use in one JSON line (its `seedDemo` output; only the fields read here are checked).
 */

const simulatorInfoSchema = z.object({
  url: z.string(),
  shopify: z.array(z.object({ shop: z.string(), baseUrl: z.string(), accessToken: z.string() })).min(1),
  stripe: z.object({ baseUrl: z.string(), account: z.string(), secretKey: z.string() }),
  etsy: z.object({ baseUrl: z.string(), connectUrl: z.string(), shopId: z.string(), keystring: z.string(), sharedSecret: z.string() }),
  tiktok: z.object({ baseUrl: z.string(), authUrl: z.string(), appKey: z.string(), appSecret: z.string() }),
});
export type SimulatorInfo = z.infer<typeof simulatorInfoSchema>;

export interface RunningSimulator {
  info: SimulatorInfo;
  /** Stops the child (idempotent). */
  stop(): Promise<void>;
}

/** The project root: this file is src/roles/ (or dist/roles/ when built). */
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const SIMULATOR_ENTRY = 'tests/simulator/main.ts';
const START_TIMEOUT_MS = 20_000;

/**
 * Starts the simulator on a free port. `tiktokRedirectUri` is the hub's OAuth callback: TikTok Shop
 * sends the seller to the app's registered redirect URL, which the simulator must be told.
 * Rejects with a reason a person can act on when it cannot start (no tests/ in this install, …).
 */
export async function startDemoSimulator(options: { tiktokRedirectUri: string }): Promise<RunningSimulator> {
  if (!existsSync(`${projectRoot}${SIMULATOR_ENTRY}`)) throw new Error(`${SIMULATOR_ENTRY} is not in this install (it ships with the source checkout only)`);
  const child = spawn(process.execPath, ['--import', 'tsx', SIMULATOR_ENTRY, '--port', '0', '--json', '--tiktok-redirect-uri', options.tiktokRedirectUri], {
    cwd: projectRoot,
    // The IPC channel lets the simulator notice when this process dies without stopping it.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const stop = stopper(child);
  try {
    return { info: await firstJsonLine(child), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function firstJsonLine(child: ChildProcess): Promise<SimulatorInfo> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2_000);
    });
    const timer = setTimeout(() => reject(new Error(`the simulator printed nothing within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    const settle = () => clearTimeout(timer);
    child.once('error', (error) => {
      settle();
      reject(error);
    });
    child.once('exit', (code, signal) => {
      settle();
      reject(new Error(`the simulator exited (${signal ?? `code ${code}`}) before it was ready: ${stderr.trim().split('\n').at(-1) ?? ''}`));
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => {
      settle();
      lines.close();
      try {
        resolve(simulatorInfoSchema.parse(JSON.parse(line)));
      } catch (error) {
        reject(new Error(`the simulator's first line is not its JSON description: ${error instanceof Error ? error.message : String(error)}`));
      }
    });
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  // Whatever way this process ends, the simulator goes with it.
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  return async () => {
    process.off('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
}
