// Shared set-up of the CI integration tests: a real master (SQLite in a temp dir, HTTP and
// WebSocket on 127.0.0.1 port 0) and real `keel worker` processes connecting to it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../../src/master/config.js';
import type { KeelConfig } from '../../src/master/config.js';
import { createMaster } from '../../src/master/master.js';
import type { Master } from '../../src/master/master.js';
import type { TimerClock } from '../../src/master/timer-clock.js';
import { openStorage } from '../../src/storage/open-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { createWebServer } from '../../src/web/server.js';
import type { WebServer } from '../../src/web/server.js';

export const KEEL_BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface RunningMaster {
  master: Master;
  web: WebServer;
  storage: Storage;
  port: number;
  url: string;
  logs: string[];
  stop(): Promise<void>;
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function startMaster(config: KeelConfig, options: { dbUrl: string; schema?: string; port?: number; heartbeatMs?: number; timers?: TimerClock; workdir?: string }): Promise<RunningMaster> {
  const logs: string[] = [];
  const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(`warn: ${m}`), error: (m: string) => logs.push(`error: ${m}`) };
  const storage = await openStorage(options.dbUrl, options.schema !== undefined ? { schema: options.schema } : {});
  const master = createMaster({
    storage, config: resolveConfig(config, { env: {} }), log, heartbeatMs: options.heartbeatMs ?? 1000,
    ...(options.timers ? { timers: options.timers } : {}), ...(options.workdir ? { workdir: options.workdir } : {}),
  });
  await master.start();
  const web = createWebServer({ master, log });
  const port = await web.listen(options.port ?? 0, '127.0.0.1');
  return {
    master, web, storage, port, url: `http://127.0.0.1:${port}`, logs,
    async stop() {
      await master.close();
      await web.close();
      await storage.close();
    },
  };
}

export interface CiSetup {
  m: RunningMaster;
  workers: WorkerProcess[];
  /** Stops the workers and the master and removes the folder. */
  stop(): Promise<void>;
}

/**
 * What most CI tests start with: a master on SQLite in `dir` and one worker process per
 * `[name, secret]`, each with its basedir in `dir`, connected before this resolves.
 */
export async function startCi(config: KeelConfig, dir: { path: string; remove: () => void }, workers: readonly [string, string][], options: { timers?: TimerClock; workdir?: string } = {}): Promise<CiSetup> {
  const m = await startMaster(config, { dbUrl: `sqlite:${join(dir.path, 'db.sqlite')}`, ...options });
  const processes = workers.map(([name, secret]) => spawnWorker(m.port, name, secret, join(dir.path, name)));
  await waitFor('the workers connected', () => workers.every(([name]) => m.master.registry.get(name) !== undefined));
  return {
    m, workers: processes,
    async stop() {
      await Promise.all(processes.map((w) => w.stop()));
      await m.stop();
      dir.remove();
    },
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

export function spawnWorker(port: number, name: string, secret: string, basedir: string, extra: string[] = []): WorkerProcess {
  const child = spawn(process.execPath, [KEEL_BIN, 'worker', '--master', `ws://127.0.0.1:${port}`, '--name', name, '--secret', secret, '--basedir', basedir, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export async function api<T = Record<string, unknown>>(base: string, path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.token) headers['authorization'] = `Bearer ${init.token}`;
  const res = await fetch(`${base}/api/v1${path}`, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

export interface BuildJson {
  id: number;
  builder: string;
  number: number;
  worker: string;
  result: string | null;
  reason: string | null;
  startedAt: number;
  finishedAt: number | null;
  properties: Record<string, unknown>;
  steps: { number: number; name: string; result: string | null; reason: string | null; logs: string[] }[];
  /** The blamelist (issue 5). */
  changes: { id: number; repository: string; branch: string; revision: string; files: string[]; message: string }[];
}

/** Forces a build and waits for the request's final (not retried) build; returns that build. */
export async function forceAndWait(m: RunningMaster, builder: string, body: Record<string, unknown> = {}, token?: string): Promise<BuildJson> {
  const forced = await api<{ requestId: number }>(m.url, `/builders/${encodeURIComponent(builder)}/force`, { method: 'POST', body, ...(token ? { token } : {}) });
  if (forced.status !== 201) throw new Error(`force failed: ${JSON.stringify(forced.body)}`);
  return waitForBuildOfRequest(m, forced.body.requestId);
}

export async function waitForBuildOfRequest(m: RunningMaster, requestId: number, timeoutMs = 30_000): Promise<BuildJson> {
  return waitFor(`a finished build of request ${requestId}`, async () => {
    const req = await api<{ buildIds: number[] }>(m.url, `/requests/${requestId}`);
    const last = req.body.buildIds[req.body.buildIds.length - 1];
    if (last === undefined) return undefined;
    const build = await api<BuildJson>(m.url, `/builds/${last}`);
    // A retried build sends its request back to the queue: wait for the one after it.
    return build.body.result !== null && build.body.result !== 'retry' ? build.body : undefined;
  }, timeoutMs);
}

export async function logText(m: RunningMaster, buildId: number, step: number | string): Promise<string> {
  const res = await fetch(`${m.url}/api/v1/builds/${buildId}/steps/${step}/logs/stdio/raw`);
  return res.text();
}
