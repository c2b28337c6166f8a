// Starts a master the way `keel master` and `keel up` do: config, storage, HTTP/WebSocket
// server, and a clean shutdown on SIGINT/SIGTERM. The only place these concrete parts meet.
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { KeelError } from '../errors.js';
import { loadConfig } from '../master/config-loader.js';
import type { ResolvedConfig } from '../master/config.js';
import { createMaster } from '../master/master.js';
import type { Master } from '../master/master.js';
import type { MasterLog } from '../master/master-deps.js';
import { openStorage, sqliteFile } from '../storage/open-storage.js';
import type { Storage } from '../storage/storage.js';
import { createWebServer } from '../web/server.js';
import type { WebServer } from '../web/server.js';
import { acquireMasterLock } from './master-lock.js';
import type { MasterLock } from './master-lock.js';

export interface MasterRuntimeOptions {
  configPath: string;
  dbUrl: string;
  port: number;
  host: string;
  masterName: string;
  /** A folder the master may write: the git pollers' mirrors. */
  workdir: string;
  /** Changes the loaded config before use (keel up adds its local worker). */
  adjust?: (config: ResolvedConfig) => ResolvedConfig;
}

export interface MasterRuntime {
  master: Master;
  storage: Storage;
  web: WebServer;
  port: number;
  close(): Promise<void>;
}

export function consoleLog(prefix: string): MasterLog {
  const line = (level: string, m: string) => process.stderr.write(`${new Date().toISOString()} ${prefix}${level}${m}\n`);
  return { info: (m) => line('', m), warn: (m) => line('warning: ', m), error: (m) => line('error: ', m) };
}

export async function startMasterRuntime(options: MasterRuntimeOptions, log: MasterLog): Promise<MasterRuntime> {
  let config = await loadConfig(options.configPath);
  if (options.adjust) config = options.adjust(config);
  await ensureCanListen(options.port, options.host);
  const lock = lockSqliteDatabase(options.dbUrl, options.masterName);
  let storage: Storage | undefined;
  let master: Master | undefined;
  try {
    storage = await openStorage(options.dbUrl);
    master = createMaster({ storage, config, log, masterName: options.masterName, workdir: options.workdir });
    await master.start();
    if (config.authTokens.length === 0) log.warn('no auth.tokens in the config: write actions (force, stop, rebuild) are open to anyone who reaches the port');
    const web = createWebServer({ master, log });
    const port = await web.listen(options.port, options.host).catch((err: unknown) => {
      throw listenError(err, options.host, options.port);
    });
    // Constants for the closure: the lets above are for the clean-up below.
    const [started, opened] = [master, storage];
    return {
      master: started, storage: opened, web, port,
      async close() {
        await started.close();
        await web.close();
        await opened.close();
        lock?.release();
      },
    };
  } catch (err) {
    // Whatever failed, the first error is the one to report.
    await master?.close().catch(() => {});
    await storage?.close().catch(() => {});
    lock?.release();
    throw err;
  }
}

/** The lock of a master on a SQLite file (master-lock.ts); PostgreSQL and in-memory masters have none. */
function lockSqliteDatabase(dbUrl: string, masterName: string): MasterLock | undefined {
  const path = sqliteFile(dbUrl);
  return path === undefined ? undefined : acquireMasterLock(resolve(path), masterName);
}

/**
 * Binds the master's address for a moment before the master starts: starting ends the builds the
 * database says this master was running (they were interrupted by its restart), so a master that
 * cannot listen, such as a second `keel up` in the same folder, must fail before it does that to
 * the one that is running.
 */
async function ensureCanListen(port: number, host: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((free, taken) => {
    const probe = createServer();
    probe.once('error', (err) => taken(listenError(err, host, port)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => free()));
  });
}

function listenError(err: unknown, host: string, port: number): unknown {
  const why = ({
    EADDRINUSE: 'the port is in use (another Keel master?); choose another with --port',
    EACCES: 'permission denied (ports below 1024 need privileges); choose another with --port',
    EADDRNOTAVAIL: `${host} is no address of this machine; check --host`,
    ENOTFOUND: `no such host ${host}; check --host`,
  } as Record<string, string>)[(err as NodeJS.ErrnoException).code ?? ''];
  return why === undefined ? err : new KeelError('KEEL_ERR_LISTEN', `cannot listen on ${host}:${port}: ${why}`, { cause: err });
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve(s));
  });
}
