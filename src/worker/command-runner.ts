// Runs one command for a build step on the worker: its own process group, no-output timeout and
// maxTime, SIGTERM to the group then SIGKILL after a grace period, output handed on as it comes.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
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

export class CommandRunner {
  private child: ChildProcess | undefined;
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
    this.child?.stdout?.pause();
    this.child?.stderr?.pause();
  }

  resume(): void {
    this.child?.stdout?.resume();
    this.child?.stderr?.resume();
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
      for (const [stream, tag] of [[child.stdout, 'o'], [child.stderr, 'e']] as const) {
        stream?.on('data', (data: Buffer) => {
          this.lastOutput = Date.now();
          this.onOutput(tag, data);
        });
      }
      child.on('error', (err) => {
        spawnError = err;
        if (child.pid === undefined) finish();
      });
      child.on('exit', (code, signal) => {
        exit = { code, signal };
        // Children that outlive the main process keep the pipes open; give them a moment,
        // then clean the group up so a build never leaves processes behind.
        drainTimer = setTimeout(() => this.signalGroup('SIGKILL'), PIPE_DRAIN_MS);
      });
      child.on('close', () => {
        if (!exit) exit = { code: child.exitCode, signal: child.signalCode };
        // The leader is gone; anything else left in its group goes too.
        this.signalGroup('SIGKILL');
        finish();
      });
      this.armIdle();
      if (this.spec.maxTime !== undefined) {
        this.maxTimer = setTimeout(() => this.kill('maxTime', `command exceeded its maxTime of ${this.spec.maxTime} seconds`), this.spec.maxTime * 1000);
      }
    });
  }
}
