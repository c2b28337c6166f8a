// FIFOs made ahead of need, so that starting a command costs no `mkfifo` process: Node has no
// mkfifo call, and running the command for each step was 4 ms of every step's start.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isProcessAlive } from '../process-alive.js';

const execFileAsync = promisify(execFile);

/** FIFOs one `mkfifo` makes; a new batch is made when fewer than a quarter are left. */
const BATCH = 64;

/**
 * The FIFOs of one process live in `<root>/<pid>`: a worker that was killed leaves its folder
 * behind, and the next process using the root removes the folders of processes that are gone.
 */
class FifoPool {
  private dir: string | undefined;
  private names: string[] = [];
  private making: Promise<void> | undefined;
  private seq = 0;
  private broken = false;

  constructor(private readonly root: string) {}

  /** Two FIFO paths, or undefined when none can be made here (no mkfifo, no such folder). */
  async take(): Promise<[string, string] | undefined> {
    while (this.names.length < 2 && !this.broken) await this.make();
    if (this.names.length < 2) return undefined;
    if (this.names.length < BATCH / 4) void this.make();
    const out = this.names.splice(0, 2);
    return [out[0]!, out[1]!];
  }

  private make(): Promise<void> {
    this.making ??= (async () => {
      try {
        if (this.dir === undefined) {
          removeStale(this.root);
          this.dir = join(this.root, String(process.pid));
          rmSync(this.dir, { recursive: true, force: true });
          mkdirSync(this.dir, { recursive: true, mode: 0o700 });
          const dir = this.dir;
          const root = this.root;
          process.once('exit', () => {
            rmSync(dir, { recursive: true, force: true });
            // The root too, unless another process's FIFOs are in it.
            try {
              rmdirSync(root);
            } catch {
              // Not empty, or gone.
            }
          });
        }
        const batch = Array.from({ length: BATCH }, () => join(this.dir!, String(this.seq++)));
        await execFileAsync('mkfifo', ['-m', '600', ...batch]);
        this.names.push(...batch);
      } catch {
        this.broken = true;
      }
    })().finally(() => {
      this.making = undefined;
    });
    return this.making;
  }
}

function removeStale(root: string): void {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return;
  }
  for (const name of entries) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid || isProcessAlive(pid)) continue;
    rmSync(join(root, name), { recursive: true, force: true });
  }
}

const pools = new Map<string, FifoPool>();

/** Two unused FIFOs under `root`, or undefined when FIFOs cannot be made there. */
export function takeFifos(root: string): Promise<[string, string] | undefined> {
  let pool = pools.get(root);
  if (!pool) pools.set(root, (pool = new FifoPool(root)));
  return pool.take();
}
