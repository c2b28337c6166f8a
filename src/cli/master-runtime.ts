// Starts a master the way `keel master` and `keel up` do: config, storage, HTTP/WebSocket
// server, and a clean shutdown on SIGINT/SIGTERM. The only place these concrete parts meet.
import { loadConfig } from '../master/config-loader.js';
import type { ResolvedConfig } from '../master/config.js';
import { createMaster } from '../master/master.js';
import type { Master } from '../master/master.js';
import type { MasterLog } from '../master/master-deps.js';
import { openStorage } from '../storage/open-storage.js';
import type { Storage } from '../storage/storage.js';
import { createWebServer } from '../web/server.js';
import type { WebServer } from '../web/server.js';

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
  const storage = await openStorage(options.dbUrl);
  const master = createMaster({ storage, config, log, masterName: options.masterName, workdir: options.workdir });
  await master.start();
  if (config.authTokens.length === 0) log.warn('no auth.tokens in the config: write actions (force, stop, rebuild) are open to anyone who reaches the port');
  const web = createWebServer({ master, log });
  let port: number;
  try {
    port = await web.listen(options.port, options.host);
  } catch (err) {
    await master.close();
    await storage.close();
    throw err;
  }
  return {
    master, storage, web, port,
    async close() {
      await master.close();
      await web.close();
      await storage.close();
    },
  };
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve(s));
  });
}
