// Process checks for tests that must prove no process was left behind.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether a process still runs: a zombie (killed, not yet reaped by its new parent) does not. */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits up to a second for signals to land, then says whether the process still runs. */
export async function alive(pid: number): Promise<boolean> {
  for (let i = 0; i < 20 && running(pid); i++) await sleep(50);
  return running(pid);
}
