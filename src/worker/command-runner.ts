// Runs one command for a build step on the worker: its own process group, no-output timeout and
// maxTime, SIGTERM to the group then SIGKILL after a grace period, output handed on as it comes.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeFifos } from './fifo-pool.js';
import { PipeReader } from './pipe-reader.js';
import { canPosixSpawn, spawnInSession } from './posix-spawn.js';
import type { SpawnedCommand } from './posix-spawn.js';
import type { FinishReason, LogStreamTag } from '../protocol/messages.js';

export interface CommandSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Seconds without output before the command is killed. */
  timeout: number;
  /** Seconds in all before the command is killed. */
  maxTime?: number;
  killGraceMs: number;
  /** Where the output FIFOs are made (the worker's basedir); default the temporary folder. */
  fifoRoot?: string;
}

export interface CommandOutcome {
  exitCode: number | null;
  signal: string | null;
  reason: FinishReason;
  message?: string;
  durationMs: number;
}

/** After the main process exits, how long its leftover children may hold the pipes open. */
const PIPE_DRAIN_MS = 2000;

/** How a command's output reaches the worker: a reader per stream, and what the child is given. */
interface OutputChannels {
  /** For spawn's stdio[1] and stdio[2]: the write ends of FIFOs, or 'pipe'. */
  stdio: [number | 'pipe', number | 'pipe'];
  /** Starts reading once the child exists; `onData`'s bytes are valid only during the call. */
  open(child: ChildProcess | SpawnedCommand, onData: (tag: 'o' | 'e', data: Buffer) => void, onClose: () => void): { pause(): void; resume(): void }[];
  /** Closes the worker's copies of the write ends: after spawn, the child holds its own. */
  release(): void;
  /** Closes everything: the command never started. */
  discard(): void;
}

/**
 * The command writes into two FIFOs the worker reads (pipe-reader.ts). Not Node's own stdio
 * pipes: libuv makes those as UNIX socket pairs, and a program that writes its output in 8 KB
 * pieces (Python, most test runners) cost the worker a second of kernel time per 100 MB through
 * one, against 0.6 s through a FIFO; and Node's pipe streams allocate a new 64 KB buffer per
 * read, whose garbage collections were a fifth of the worker's CPU. A FIFO is also what a shell
 * pipeline gives the command. The FIFOs come from a pool (fifo-pool.ts); where none can be made,
 * Node's pipes and their `data` events do.
 */
async function outputChannels(fifoRoot: string): Promise<OutputChannels> {
  const fds: number[] = [];
  const paths = await takeFifos(fifoRoot);
  try {
    if (!paths) throw new Error('no FIFOs');
    // The read ends first, non-blocking (a write-only open waits for a reader otherwise); the
    // names go at once, the open ends keep working.
    const reads = paths.map((p) => openSync(p, constants.O_RDONLY | constants.O_NONBLOCK));
    fds.push(...reads);
    const writes = paths.map((p) => openSync(p, constants.O_WRONLY));
    fds.push(...writes);
    for (const p of paths) unlinkSync(p);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const fd of writes) closeSync(fd);
    };
    return {
      stdio: [writes[0]!, writes[1]!],
      release,
      discard() {
        release();
        for (const fd of reads) closeSync(fd);
      },
      open(_child, onData, onClose) {
        // Our copies of the write ends go, so that the end of the command's output is an EOF.
        release();
        const readers: PipeReader[] = [];
        for (const [i, tag] of (['o', 'e'] as const).entries()) readers.push(new PipeReader(reads[i]!, (data) => onData(tag, data), onClose, readers));
        return readers;
      },
    };
  } catch {
    for (const fd of fds) closeSync(fd);
    for (const p of paths ?? []) rmSync(p, { force: true });
    return {
      stdio: ['pipe', 'pipe'],
      release() {},
      discard() {},
      open(child, onData, onClose) {
        return ([[child.stdout, 'o'], [child.stderr, 'e']] as const).flatMap(([stream, tag]) => {
          if (!stream) return [];
          stream.on('data', (data: Buffer) => onData(tag, data));
          stream.on('close', onClose);
          return [{ pause: () => stream.pause(), resume: () => stream.resume() }];
        });
      },
    };
  }
}

/**
 * Starts the command in a session of its own (its process group is what a kill signals):
 * through posix_spawn where the output goes to FIFOs and glibc is here (posix-spawn.ts says why),
 * else through Node's spawn with `detached`, which forks.
 */
function startCommand(spec: CommandSpec, stdio: OutputChannels['stdio']): ChildProcess | SpawnedCommand {
  const [stdout, stderr] = stdio;
  if (typeof stdout === 'number' && typeof stderr === 'number' && canPosixSpawn()) {
    return spawnInSession({ argv: spec.argv, cwd: spec.cwd, env: spec.env, stdout, stderr });
  }
  return spawn(spec.argv[0] ?? 'false', spec.argv.slice(1), {
    cwd: spec.cwd,
    env: spec.env,
    // detached makes the child the leader of a new process group, so the whole tree it
    // starts (make, its compilers, a test's servers) can be signalled as one.
    detached: true,
    stdio: ['ignore', ...stdio],
  });
}

export class CommandRunner {
  private child: ChildProcess | SpawnedCommand | undefined;
  private readers: { pause(): void; resume(): void }[] = [];
  private paused = false;
  private killReason: { reason: FinishReason; message: string } | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private maxTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();
  readonly done: Promise<CommandOutcome>;

  /**
   * Starts the command at once. `onOutput` gets the bytes in the order produced, undecoded;
   * header text (`h`) is written by the runner itself, e.g. when it kills the command.
   */
  constructor(private readonly spec: CommandSpec, private readonly onOutput: (stream: LogStreamTag, data: Buffer) => void) {
    this.done = this.run();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stops reading the command's output (its pipes fill and it blocks): back-pressure. */
  pause(): void {
    this.paused = true;
    for (const r of this.readers) r.pause();
  }

  resume(): void {
    this.paused = false;
    for (const r of this.readers) r.resume();
  }

  /** SIGTERM to the whole process group, SIGKILL after the grace period. Idempotent. */
  kill(reason: FinishReason, message: string): void {
    if (this.killReason) return;
    this.killReason = { reason, message };
    // Before the command is spawned, run() signals it as soon as it is.
    if (this.child) this.signalKill();
  }

  private signalKill(): void {
    if (!this.child || !this.killReason) return;
    this.header(`\n${this.killReason.message}: sending SIGTERM to process group ${this.child.pid}\n`);
    this.signalGroup('SIGTERM');
    this.killTimer = setTimeout(() => {
      this.header(`process group ${this.child?.pid} still alive after ${this.spec.killGraceMs} ms: sending SIGKILL\n`);
      this.signalGroup('SIGKILL');
    }, this.spec.killGraceMs);
  }

  private header(text: string): void {
    this.onOutput('h', Buffer.from(text));
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  }

  private lastOutput = Date.now();

  /**
   * Arms the no-output timer. Output only notes the time: a big log comes in thousands of pipe
   * reads, and re-creating a timer for each was needless work; on expiry the timer re-arms for
   * what is left when output came meanwhile.
   */
  private armIdle(delayMs = this.spec.timeout * 1000): void {
    this.idleTimer = setTimeout(() => {
      const left = this.spec.timeout * 1000 - (Date.now() - this.lastOutput);
      if (left > 0) this.armIdle(left);
      else this.kill('timeout', `command timed out: ${this.spec.timeout} seconds without output`);
    }, delayMs);
  }

  private async run(): Promise<CommandOutcome> {
    const channels = await outputChannels(this.spec.fifoRoot ?? join(tmpdir(), 'keel-fifos'));
    if (this.killReason) {
      // Stopped before it could start: it never will.
      channels.discard();
      return { exitCode: null, signal: null, reason: this.killReason.reason, message: this.killReason.message, durationMs: Date.now() - this.started };
    }
    return new Promise((resolve) => {
      let child: ChildProcess | SpawnedCommand;
      try {
        child = startCommand(this.spec, channels.stdio);
      } catch (err) {
        channels.discard();
        resolve({ exitCode: null, signal: null, reason: 'spawnFailed', message: (err as Error).message, durationMs: 0 });
        return;
      }
      this.child = child;
      let spawnError: Error | undefined;
      let exit: { code: number | null; signal: string | null } | undefined;
      let drainTimer: NodeJS.Timeout | undefined;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(this.idleTimer);
        clearTimeout(this.maxTimer);
        clearTimeout(this.killTimer);
        clearTimeout(drainTimer);
        const durationMs = Date.now() - this.started;
        if (spawnError && !exit) {
          resolve({ exitCode: null, signal: null, reason: 'spawnFailed', message: spawnError.message, durationMs });
        } else if (this.killReason) {
          resolve({ exitCode: exit?.code ?? null, signal: exit?.signal ?? null, reason: this.killReason.reason, message: this.killReason.message, durationMs });
        } else {
          resolve({ exitCode: exit?.code ?? null, signal: exit?.signal ?? null, reason: 'exited', durationMs });
        }
      };
      // The output is read by sockets of the runner's own (see outputChannels), so the child's
      // own `close` (exit and both pipes closed) may never come: the same is counted here.
      let openPipes = 0;
      const closed = () => {
        if (!exit) exit = { code: child.exitCode, signal: child.signalCode };
        // The leader is gone; anything else left in its group goes too.
        this.signalGroup('SIGKILL');
        finish();
      };
      const pipeClosed = () => {
        if (--openPipes === 0 && exit) closed();
      };
      if (child.pid !== undefined) {
        this.readers = channels.open(child, (tag, data) => {
          this.lastOutput = Date.now();
          this.onOutput(tag, data);
        }, pipeClosed);
        openPipes = this.readers.length;
        if (this.paused) this.pause();
        // A kill asked for while the output channels were being made.
        if (this.killReason) this.signalKill();
      } else {
        channels.discard();
      }
      child.on('error', (err) => {
        spawnError = err;
        if (child.pid === undefined) finish();
      });
      child.on('exit', (code, signal) => {
        exit = { code, signal };
        if (openPipes === 0) {
          closed();
          return;
        }
        // Children that outlive the main process keep the pipes open; give them a moment,
        // then clean the group up so a build never leaves processes behind.
        drainTimer = setTimeout(() => this.signalGroup('SIGKILL'), PIPE_DRAIN_MS);
      });
      this.armIdle();
      if (this.spec.maxTime !== undefined) {
        this.maxTimer = setTimeout(() => this.kill('maxTime', `command exceeded its maxTime of ${this.spec.maxTime} seconds`), this.spec.maxTime * 1000);
      }
    });
  }
}
