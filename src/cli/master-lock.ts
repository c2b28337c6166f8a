// One running master per name and SQLite database, as Buildbot's twistd.pid keeps one per basedir.
// A master that starts ends the builds its name was running (they were interrupted by its
// restart); a second master of the same name on the same file, such as `keel up --port 8011` in a
// folder where `keel up` already runs, would end the running one's builds. A file beside the
// database holds the running master's pid and host.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { KeelError } from '../errors.js';
import { isProcessAlive } from '../process-alive.js';

export interface MasterLock {
  /** Removes the file, if it is still this process's. */
  release(): void;
}

export function masterLockPath(dbPath: string, masterName: string): string {
  return `${dbPath}.master-${encodeURIComponent(masterName)}.pid`;
}

/** The pid and host in a lock file, or undefined when it cannot be read or understood. */
function readHolder(path: string): { pid: number; host: string } | undefined {
  try {
    const [pid, host] = readFileSync(path, 'utf8').split('\n');
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 ? { pid: n, host: host ?? '' } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock of `masterName` on the SQLite file `dbPath`, or throws KEEL_ERR_MASTER_RUNNING
 * naming the master that holds it. A file left by a master that died (killed, crashed) is taken
 * over: its pid is no longer running on this host.
 */
export function acquireMasterLock(dbPath: string, masterName: string): MasterLock {
  const path = masterLockPath(dbPath, masterName);
  const me = `${process.pid}\n${hostname()}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      // A first start: the database's folder does not exist yet.
      mkdirSync(dirname(path), { recursive: true });
      // O_EXCL: of two masters starting at once, one creates it.
      const fd = openSync(path, 'wx');
      writeSync(fd, me);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new KeelError('KEEL_ERR_STORAGE', `cannot write the master lock ${path} beside the database: ${(err as Error).message}`, { cause: err });
      }
    }
    const holder = readHolder(path);
    if (holder && (holder.host !== hostname() || isProcessAlive(holder.pid))) {
      const where = holder.host === hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on ${holder.host}`;
      throw new KeelError('KEEL_ERR_MASTER_RUNNING',
        `a master named "${masterName}" already runs on this database (${where}): stop it first, or start this one with another name or database; if that process is no Keel master, delete ${path}`);
    }
    rmSync(path, { force: true });
  }
  return {
    release() {
      if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}
