// Kills what a previous run of this worker left behind. A worker killed with SIGKILL (or by a
// crash, or the OOM killer) cannot stop its commands, and their process groups live on as
// orphans; so every command carries its worker run's token in KEEL_WORKER_RUN, the token is kept
// in the basedir, and the next run of the worker on that basedir kills every process still
// carrying the previous token. Linux only (/proc); elsewhere it does nothing.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RUN_TOKEN_VARIABLE = 'KEEL_WORKER_RUN';
const TOKEN_FILE = '.keel-worker-run';

/** Pids of the processes whose environment holds `VAR=token`. */
function processesWithToken(token: string): number[] {
  const needle = Buffer.from(`${RUN_TOKEN_VARIABLE}=${token}\0`);
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`).includes(needle)) pids.push(Number(entry));
    } catch {
      // Gone already, or not ours to read.
    }
  }
  return pids;
}

/**
 * Kills the leftovers of the previous run on `basedir` and starts a new run. Returns the new
 * run's token (to put in every command's environment) and how many processes were killed.
 */
export function startWorkerRun(basedir: string): { token: string; killed: number } {
  mkdirSync(basedir, { recursive: true });
  const file = join(basedir, TOKEN_FILE);
  let killed = 0;
  let previous = '';
  try {
    previous = readFileSync(file, 'utf8').trim();
  } catch {
    // First run on this basedir.
  }
  if (/^[0-9a-f]{32}$/.test(previous)) {
    for (const pid of processesWithToken(previous)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // Exited meanwhile.
      }
    }
  }
  const token = randomBytes(16).toString('hex');
  writeFileSync(file, `${token}\n`);
  return { token, killed };
}
