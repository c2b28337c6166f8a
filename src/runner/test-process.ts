// Runs one test file in a fresh Node.js process and turns what it sends on its results channel,
// its exit and its output into a FileRun. One process per file is the point: nothing leaks from
// one file into another, and a crash or a hang costs one file, never the run.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChannelMessage } from './child/channel.js';
import type { DrivePlan } from './child/one-process-driver.js';
import type { FileRun, FileState, HuntSample, TestRecord } from './file-result.js';
import { formatDuration } from './format.js';
import { dumpStacks, findInspectorUrl, INSPECTOR_NOISE } from './stack-dump.js';
import { NAME_SEPARATOR } from '../results/model.js';

const PRELOAD = new URL('./child/preload.js', import.meta.url).href;
const REPORTER = new URL('./child/quiet-reporter.js', import.meta.url).href;
const DRIVER = new URL('./child/one-process-driver.js', import.meta.url);

/** Output kept per process: the tail, where the error usually is. */
const OUTPUT_LIMIT = 1024 * 1024;
/** Reason node 20 gives to tests that --test-name-pattern left out; they were not selected. */
const NOT_SELECTED = 'test name does not match pattern';

/** Process groups of the test processes running now: killed if the runner itself exits. */
const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export interface TestFile {
  name: string;
  path: string;
}

export interface ProcessOptions {
  cwd: string;
  /** Extra node flags for the test process, e.g. ['--import', 'tsx']. */
  nodeArgs: string[];
  verbose: boolean;
  timeoutMs: number | null;
  /** Patterns for node's --test-name-pattern / --test-skip-pattern. */
  namePatterns: string[];
  skipPatterns: string[];
  /** Keeps or drops a result by its name parts (filters that node alone cannot apply). */
  selects: (names: readonly string[]) => boolean;
  resources: string;
  attempt: number;
  signal?: AbortSignal;
  /** Called with each line of output, for a live view (-v in sequential mode). */
  onOutput?: (chunk: string) => void;
  /**
   * Run the tests in-process through the driver instead of letting node run the file once:
   * `runs` times (leak hunting, with `sample`), and/or with more files (bisect). The files run
   * in this order, the first being `file` unless `files` says otherwise.
   */
  drive?: { runs: number; sample: boolean; files?: TestFile[] };
}

class OutputTail {
  private chunks: string[] = [];
  private size = 0;
  truncated = false;
  push(chunk: string) {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > OUTPUT_LIMIT && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
      this.truncated = true;
    }
  }
  text() {
    return (this.truncated ? '[… earlier output cut …]\n' : '') + this.chunks.join('');
  }
}

function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `killed by signal ${signal}`;
  return `exit code ${code}`;
}

export async function runTestProcess(file: TestFile, opts: ProcessOptions): Promise<FileRun> {
  const started = performance.now();
  const tmp = mkdtempSync(path.join(tmpdir(), 'keel-test-'));
  const args = [...opts.nodeArgs, '--inspect-port=0', '--import', PRELOAD];
  if (opts.verbose) args.push('--test-reporter=spec', '--test-reporter-destination=stdout');
  args.push(`--test-reporter=${REPORTER}`, '--test-reporter-destination=stderr');
  for (const p of opts.namePatterns) args.push(`--test-name-pattern=${p}`);
  for (const p of opts.skipPatterns) args.push(`--test-skip-pattern=${p}`);
  let drivePlan: DrivePlan | undefined;
  if (opts.drive) {
    const files = opts.drive.files ?? [file];
    drivePlan = { files: files.map((f) => ({ name: f.name, url: pathToFileURL(f.path).href })), runs: opts.drive.runs, sample: opts.drive.sample };
    if (opts.drive.sample) args.unshift('--expose-gc');
    args.push(new URL(DRIVER).pathname);
  } else {
    args.push(file.path);
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KEEL_CHANNEL_FD: '3',
    KEEL_RESOURCES: opts.resources,
    KEEL_TEST_NAME: file.name,
    TMPDIR: tmp,
    TMP: tmp,
    TEMP: tmp,
    // Read by the driver (child/one-process-driver.ts).
    ...(drivePlan ? { KEEL_DRIVE: JSON.stringify(drivePlan) } : {}),
  };
  // Set when keel itself runs under `node --test`: it would switch the child's reporting off.
  delete env.NODE_TEST_CONTEXT;

  const child = spawn(process.execPath, args, {
    cwd: opts.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });

  if (child.pid !== undefined) liveGroups.add(child.pid);
  const output = new OutputTail();
  // The inspector announces its address on stderr after SIGUSR1; a line may span two chunks.
  let stderrTail = '';
  let inspectorUrl: string | undefined;
  const onData = (isErr: boolean) => (buf: Buffer) => {
    const text = buf.toString();
    if (isErr && !inspectorUrl) {
      inspectorUrl = findInspectorUrl(stderrTail + text);
      stderrTail = text.slice(-200);
    }
    output.push(text);
    opts.onOutput?.(text);
  };
  child.stdout!.on('data', onData(false));
  child.stderr!.on('data', onData(true));

  const tests: TestRecord[] = [];
  const samples: HuntSample[] = [];
  // With the driver, the same test reports once per run (and bisect runs several files): a test
  // is kept once, with its first failure if any run failed.
  const seen = new Map<string, number>();
  let currentFile: string | undefined;
  let testMessages = 0;
  const running = new Map<number, string>();
  const suites: string[] = [];
  let hello = false;
  let end: Extract<ChannelMessage, { t: 'end' }> | undefined;
  let workerBug: string | undefined;
  let pendingLine = '';
  const channel = child.stdio[3] as NodeJS.ReadableStream;
  const channelClosed = new Promise<void>((resolve) => {
    channel.on('end', resolve);
    channel.on('close', resolve);
    channel.on('error', resolve);
  });
  channel.setEncoding('utf8');
  channel.on('data', (chunk: string) => {
    const lines = (pendingLine + chunk).split('\n');
    pendingLine = lines.pop()!;
    for (const line of lines) {
      if (!line) continue;
      let msg: ChannelMessage;
      try {
        msg = JSON.parse(line) as ChannelMessage;
      } catch (err) {
        workerBug ??= `cannot read the results channel: ${(err as Error).message} in ${JSON.stringify(line.slice(0, 80))}`;
        continue;
      }
      handle(msg);
    }
  });

  function handle(msg: ChannelMessage) {
    switch (msg.t) {
      case 'hello':
        hello = true;
        break;
      case 'running':
        running.set(msg.nesting, msg.name);
        for (const n of [...running.keys()]) if (n > msg.nesting) running.delete(n);
        break;
      case 'test': {
        testMessages++;
        running.delete(msg.names.length - 1);
        if (msg.suite) suites.push(msg.names.join(NAME_SEPARATOR));
        if (msg.reason === NOT_SELECTED || !opts.selects(msg.names)) return;
        if (msg.container && (msg.outcome !== 'fail' || msg.failureType === 'subtestsFailed')) return;
        const outcome = msg.outcome === 'todo' ? 'skip' : msg.outcome === 'fail' && msg.container ? 'error' : msg.outcome;
        const record: TestRecord = { names: msg.names, outcome, durationMs: msg.durationMs };
        if (msg.message !== undefined) record.message = msg.message;
        if (msg.stack !== undefined) record.stack = msg.stack;
        if (msg.outcome === 'todo') record.reason = msg.reason ? `TODO ${msg.reason}` : 'TODO';
        else if (msg.reason !== undefined) record.reason = msg.reason;
        if (drivePlan) {
          if (currentFile !== undefined && drivePlan.files.length > 1) record.file = currentFile;
          const key = `${record.file ?? ''}\0${msg.names.join(NAME_SEPARATOR)}`;
          const index = seen.get(key);
          if (index !== undefined) {
            const before = tests[index]!;
            if (isFailure(record.outcome) && !isFailure(before.outcome)) tests[index] = record;
            return;
          }
          seen.set(key, tests.length);
        }
        tests.push(record);
        break;
      }
      case 'run':
        currentFile = msg.file;
        break;
      case 'sample':
        samples.push({ run: msg.run, heapUsed: msg.heapUsed, resources: msg.resources, fds: msg.fds, tests: testMessages });
        break;
      case 'end':
        end = msg;
        break;
      case 'diagnostic':
        break;
      default:
        workerBug ??= `unknown message on the results channel: ${JSON.stringify(msg).slice(0, 80)}`;
    }
  }

  let timedOut = false;
  let interrupted = false;
  let dump: string | undefined;
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const onAbort = () => {
    interrupted = true;
    killGroup();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();

  let timer: NodeJS.Timeout | undefined;
  if (opts.timeoutMs !== null) {
    timer = setTimeout(async () => {
      timedOut = true;
      dump = await dumpStacks(child.pid!, () => inspectorUrl);
      killGroup();
    }, opts.timeoutMs);
  }

  const exit = await new Promise<{ code: number | null; signal: string | null; spawnError?: Error }>((resolve) => {
    child.on('error', (err) => resolve({ code: null, signal: null, spawnError: err }));
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', onAbort);
  if (child.pid !== undefined) liveGroups.delete(child.pid);
  // Grandchildren may hold the pipes open; give them a moment, then stop listening.
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([channelClosed, new Promise((r) => (drainTimer = setTimeout(r, 200)))]);
  clearTimeout(drainTimer);
  const envChanges = [...(end?.envChanges ?? [])];
  if (processGroupAlive(child.pid!)) {
    if (!timedOut && !interrupted) envChanges.push('left child processes running (killed)');
    killGroup();
  }
  child.stdout!.destroy();
  child.stderr!.destroy();
  (channel as unknown as { destroy(): void }).destroy();

  try {
    const leaked = readdirSync(tmp);
    if (leaked.length && !timedOut && !interrupted) {
      envChanges.push(`leaked temporary files (${leaked.length}): ${leaked.slice(0, 10).join(', ')}${leaked.length > 10 ? ', …' : ''}`);
    }
  } catch {
    // the file removed its own temporary directory: nothing leaked
  }
  rmSync(tmp, { recursive: true, force: true });

  const run: FileRun = {
    name: file.name,
    path: file.path,
    state: 'passed',
    attempt: opts.attempt,
    durationMs: performance.now() - started,
    tests,
    envChanges,
    output: dump !== undefined ? output.text().replace(INSPECTOR_NOISE, '') : output.text(),
    exitCode: exit.code,
    signal: exit.signal,
    running: [...running.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n),
    suites,
  };
  if (dump !== undefined) run.dump = dump;
  if (opts.drive?.sample) run.samples = samples;
  run.state = classify(run, { timedOut, interrupted, hello, end, workerBug, spawnError: exit.spawnError, timeoutMs: opts.timeoutMs });
  if (run.state === 'crashed' || run.state === 'timed out' || run.state === 'worker bug') {
    // The file failed as a whole: blame the test that was running, or the file itself, so the
    // failure is counted, reported and re-run like any other.
    run.tests.push({ names: run.running, outcome: 'error', durationMs: 0, message: run.error ?? run.state });
  }
  return run;
}

const isFailure = (outcome: string) => outcome === 'fail' || outcome === 'error';

function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Facts {
  timedOut: boolean;
  interrupted: boolean;
  hello: boolean;
  end: Extract<ChannelMessage, { t: 'end' }> | undefined;
  workerBug: string | undefined;
  spawnError: Error | undefined;
  timeoutMs: number | null;
}

function classify(run: FileRun, f: Facts): FileState {
  const exitText = describeExit(run.exitCode, run.signal);
  if (f.interrupted) {
    run.error = 'interrupted';
    return 'interrupted';
  }
  if (f.timedOut) {
    run.error = `timed out after ${formatDuration((f.timeoutMs ?? 0) / 1000)}` + (run.running.length ? ` while running: ${run.running.join(' > ')}` : '');
    return 'timed out';
  }
  if (f.spawnError) {
    run.error = `cannot start the test process: ${f.spawnError.message}`;
    return 'worker bug';
  }
  if (f.workerBug || f.end?.problem) {
    run.error = f.workerBug ?? f.end?.problem ?? '';
    return 'worker bug';
  }
  if (!f.hello) {
    if (run.exitCode === 0) {
      run.error = 'the test process exited without opening its results channel';
      return 'worker bug';
    }
    run.error = `the test process failed before running any test (${exitText})`;
    return 'crashed';
  }
  if (!f.end || !f.end.complete) {
    const ran = run.tests.length;
    run.error =
      run.signal || run.exitCode !== 0
        ? `crashed (${exitText})` + (run.running.length ? ` in ${run.running.join(' > ')}` : '') + ` after ${ran} test${ran === 1 ? '' : 's'}`
        : `exited early (${exitText}) after ${ran} test${ran === 1 ? '' : 's'}, before its run ended`;
    return 'crashed';
  }
  const failed = run.tests.filter((t) => t.outcome === 'fail' || t.outcome === 'error');
  if (failed.length) {
    run.error = `${failed.length} test${failed.length === 1 ? '' : 's'} failed`;
    return 'failed';
  }
  if (run.exitCode !== 0 && run.exitCode !== null) {
    run.error = `the process ended with ${exitText} although no test failed`;
    return 'failed';
  }
  if (run.envChanges.length) return 'env changed';
  if (run.tests.length === 0) return 'no tests ran';
  if (run.tests.every((t) => t.outcome === 'skip')) {
    return run.tests.every((t) => t.reason?.startsWith('resource denied')) ? 'resource denied' : 'skipped';
  }
  return 'passed';
}
