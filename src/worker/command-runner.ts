// Runs one command for a build step on the worker: its own process group, no-output timeout and
// maxTime, SIGTERM to the group then SIGKILL after a grace period, output handed on as it comes.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
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

/**
 * Each pipe is read into one buffer of this size, reused for every read: at most what the
 * worker passes on in one piece (two of them stay within a batch, OUTPUT_BATCH_BYTES × 2).
 */
export const READ_BUFFER_BYTES = 128 * 1024;

/**
 * Reads a child's pipe into one reused buffer (net.Socket's `onread`), instead of the stream
 * Node made for it, which allocates a new 64 KB buffer for every read and passes each through
 * the Readable machinery: for a 100 MB log that was 100 MB of short-lived buffers, and the
 * garbage collections their external memory forced were a fifth of the worker's CPU. The pipe's
 * handle is the one Node made (`_handle`: there is no public way to spawn with `onread`); where
 * it is missing, the stream's `data` events do. `onData`'s bytes are valid only during the call.
 */
function readPipe(stream: Readable, onData: (data: Buffer) => void, onClose: () => void): { pause(): void; resume(): void } {
  const handle = (stream as unknown as { _handle?: unknown })._handle;
  if (handle === undefined || handle === null) {
    stream.on('data', onData);
    stream.on('close', onClose);
    return { pause: () => stream.pause(), resume: () => stream.resume() };
  }
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const socket = new Socket({
    handle, readable: true, writable: false,
    onread: { buffer, callback: (n: number) => void onData(buffer.subarray(0, n)) },
  } as ConstructorParameters<typeof Socket>[0]);
  socket.on('error', () => {});
  socket.on('close', onClose);
  return { pause: () => socket.pause(), resume: () => socket.resume() };
}

export class CommandRunner {
  private child: ChildProcess | undefined;
  private readers: { pause(): void; resume(): void }[] = [];
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
    for (const r of this.readers) r.pause();
  }

  resume(): void {
    for (const r of this.readers) r.resume();
  }

  /** SIGTERM to the whole process group, SIGKILL after the grace period. Idempotent. */
  kill(reason: FinishReason, message: string): void {
    if (this.killReason || !this.child) return;
    this.killReason = { reason, message };
    this.header(`\n${message}: sending SIGTERM to process group ${this.child.pid}\n`);
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

  private run(): Promise<CommandOutcome> {
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(this.spec.argv[0] ?? 'false', this.spec.argv.slice(1), {
          cwd: this.spec.cwd,
          env: this.spec.env,
          // detached makes the child the leader of a new process group, so the whole tree it
          // starts (make, its compilers, a test's servers) can be signalled as one.
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
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
      // The pipes are read by their own sockets (see readPipe), so the child's own `close`
      // (exit and both pipes closed) never comes: the same is counted here.
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
        for (const [stream, tag] of [[child.stdout, 'o'], [child.stderr, 'e']] as const) {
          if (!stream) continue;
          openPipes++;
          this.readers.push(readPipe(stream, (data: Buffer) => {
            this.lastOutput = Date.now();
            this.onOutput(tag, data);
          }, pipeClosed));
        }
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
