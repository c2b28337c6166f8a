// Starts a build's command with glibc's posix_spawn(3), through koffi, instead of
// child_process.spawn. Node forks: the kernel then marks every page of the worker copy-on-write,
// and each page the worker writes afterwards (its read buffers, chunk buffers, heap) faults once.
// On this project's VMs a fault costs 11-16 µs: rewriting 8 MB after a spawn took 32-38 ms
// (2,060 faults) against 0.3 ms after posix_spawn, and a step printing 100 MB cost the worker
// 3,000-4,000 of them. glibc's posix_spawn clones with CLONE_VM | CLONE_VFORK: nothing is copied
// or marked. Where it cannot be used (not glibc, no koffi), the caller falls back to Node's spawn.
import { EventEmitter } from 'node:events';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import type Koffi from 'koffi';

interface Libc {
  posixSpawn(pid: [number], path: string, actions: Buffer, attr: Buffer, argv: (string | null)[], envp: (string | null)[]): number;
  waitpid(pid: number, status: [number], options: number): number;
  actionsInit(actions: Buffer): number;
  actionsDestroy(actions: Buffer): number;
  addOpen(actions: Buffer, fd: number, path: string, flags: number, mode: number): number;
  addDup2(actions: Buffer, fd: number, newFd: number): number;
  addChdir(actions: Buffer, path: string): number;
  attrInit(attr: Buffer): number;
  attrDestroy(attr: Buffer): number;
  attrSetFlags(attr: Buffer, flags: number): number;
  attrSetSigDefault(attr: Buffer, set: Buffer): number;
  attrSetSigMask(attr: Buffer, set: Buffer): number;
}

// glibc's values (spawn.h, bits/waitflags.h); other C libraries are not used (see loadLibc).
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const WNOHANG = 1;
/** Larger than glibc's posix_spawn_file_actions_t (80 bytes), posix_spawnattr_t (336) and sigset_t (128). */
const OPAQUE_BYTES = 1024;
/**
 * glibc's sigset_t is a bit mask. Every bit set, not sigfillset's: that leaves out glibc's own
 * two (32 and 33), which the command would then start with ignored (Node's spawn leaves none).
 */
const ALL_SIGNALS = Buffer.alloc(OPAQUE_BYTES, 0xff);
const NO_SIGNALS = Buffer.alloc(OPAQUE_BYTES);

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== 'linux') return libc;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
    const c = koffi.load(null);
    // glibc's own function: elsewhere (musl) the flag values below may differ, so it throws.
    c.func('const char *gnu_get_libc_version()');
    libc = {
      posixSpawn: c.func('int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)'),
      waitpid: c.func('int waitpid(int pid, _Out_ int *status, int options)'),
      actionsInit: c.func('int posix_spawn_file_actions_init(void *actions)'),
      actionsDestroy: c.func('int posix_spawn_file_actions_destroy(void *actions)'),
      addOpen: c.func('int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int flags, int mode)'),
      addDup2: c.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)'),
      // glibc 2.29 and later; where it is missing the whole module is (the catch below).
      addChdir: c.func('int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)'),
      attrInit: c.func('int posix_spawnattr_init(void *attr)'),
      attrDestroy: c.func('int posix_spawnattr_destroy(void *attr)'),
      attrSetFlags: c.func('int posix_spawnattr_setflags(void *attr, short flags)'),
      attrSetSigDefault: c.func('int posix_spawnattr_setsigdefault(void *attr, void *set)'),
      attrSetSigMask: c.func('int posix_spawnattr_setsigmask(void *attr, void *set)'),
    } as unknown as Libc;
  } catch {
    libc = null;
  }
  return libc;
}

/** Whether spawnInSession can start commands here. */
export function canPosixSpawn(): boolean {
  return loadLibc() !== null;
}

/**
 * A command started by spawnInSession: what CommandRunner uses of a ChildProcess. 'error' is
 * never emitted (spawnInSession throws instead); it and the null pipes let CommandRunner treat
 * both alike.
 */
export class SpawnedCommand extends EventEmitter<{ exit: [code: number | null, signal: NodeJS.Signals | null]; error: [err: Error] }> {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdout = null;
  readonly stderr = null;

  constructor(readonly pid: number) {
    super();
  }

  /** From waitpid's status; -1 when the status was lost (another waitpid took it). */
  ended(status: number): void {
    const signal = status & 0x7f;
    if (status >= 0 && signal === 0) this.exitCode = (status >> 8) & 0xff;
    else if (status >= 0) this.signalCode = signalName(signal);
    this.emit('exit', this.exitCode, this.signalCode);
  }
}

function signalName(n: number): NodeJS.Signals | null {
  for (const [name, value] of Object.entries(osConstants.signals)) if (value === n) return name as NodeJS.Signals;
  return null;
}

/** Commands started here and not yet reaped: libuv reaps only the children it started itself. */
const running = new Map<number, SpawnedCommand>();
let listening = false;
/**
 * Runs while any command does: it keeps the event loop alive, as a ChildProcess's handle does
 * (a signal listener does not), and reaps a command whose SIGCHLD was missed.
 */
let keepAlive: NodeJS.Timeout | undefined;
const REAP_POLL_MS = 1000;

function reap(): void {
  const c = loadLibc();
  if (!c) return;
  // One SIGCHLD may stand for several children that ended.
  for (const [pid, command] of running) {
    const status: [number] = [0];
    const got = c.waitpid(pid, status, WNOHANG);
    if (got === 0) continue;
    running.delete(pid);
    command.ended(got === pid ? status[0] : -1);
  }
  if (running.size === 0) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

/** The file execvp would run for `file`, searching the command's own PATH from its workdir. */
function executable(file: string, env: Record<string, string>, cwd: string): string {
  if (file.includes('/')) return file;
  for (const dir of (env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const candidate = join(resolve(cwd, dir), file);
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here; the next directory.
    }
  }
  throw spawnError(file, osConstants.errno.ENOENT);
}

function spawnError(file: string, errno: number): Error {
  const code = Object.entries(osConstants.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
  return Object.assign(new Error(`spawn ${file} ${code}`), { code });
}

export interface SessionCommandSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Descriptors that become the command's stdout and stderr; stdin is /dev/null. */
  stdout: number;
  stderr: number;
}

/**
 * Starts the command as the leader of a new session and process group (as `detached` does),
 * every signal at its default and none blocked (Node ignores SIGPIPE, which a command must not
 * inherit). Throws like spawn's error event when it cannot start (`spawn FILE ENOENT`). Only
 * where canPosixSpawn().
 */
export function spawnInSession(spec: SessionCommandSpec): SpawnedCommand {
  const c = loadLibc();
  if (!c) throw new Error('posix_spawn is not available here');
  const file = spec.argv[0] ?? 'false';
  const path = executable(file, spec.env, spec.cwd);
  const actions = Buffer.alloc(OPAQUE_BYTES);
  const attr = Buffer.alloc(OPAQUE_BYTES);
  c.actionsInit(actions);
  c.attrInit(attr);
  try {
    const steps = [
      c.addOpen(actions, 0, '/dev/null', fsConstants.O_RDONLY, 0),
      c.addDup2(actions, spec.stdout, 1),
      c.addDup2(actions, spec.stderr, 2),
      c.addChdir(actions, spec.cwd),
      c.attrSetFlags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK),
      c.attrSetSigDefault(attr, ALL_SIGNALS),
      c.attrSetSigMask(attr, NO_SIGNALS),
    ];
    const failed = steps.find((rc) => rc !== 0);
    if (failed !== undefined) throw spawnError(file, failed);
    const pid: [number] = [0];
    const env = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
    const rc = c.posixSpawn(pid, path, actions, attr, [...spec.argv, null], [...env, null]);
    // glibc reports a failed chdir or exec here (the child runs before posix_spawn returns).
    if (rc !== 0) throw spawnError(file, rc);
    const command = new SpawnedCommand(pid[0]);
    running.set(pid[0], command);
    if (!listening) {
      listening = true;
      // Signal listeners do not keep the event loop alive.
      process.on('SIGCHLD', reap);
    }
    keepAlive ??= setInterval(reap, REAP_POLL_MS);
    // It may have ended already, its SIGCHLD caught before the listener existed.
    setImmediate(reap);
    return command;
  } finally {
    c.actionsDestroy(actions);
    c.attrDestroy(attr);
  }
}
