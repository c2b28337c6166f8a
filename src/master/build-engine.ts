// Runs one build: its steps in order on one worker, each step's output into its `stdio` log,
// Buildbot's halt/flunk/warn/alwaysRun rules, and one result. Every write is followed by an event.
import { KeelError } from '../errors.js';
import type { TestCaseResult } from '../results/model.js';
import { LogWriter } from '../storage/log-writer.js';
import type { BuildRequestRecord, Storage } from '../storage/storage.js';
import type { ResolvedBuilder, ResolvedStep } from './config.js';
import type { EventBus } from './events.js';
import type { Clock, MasterLog } from './master-deps.js';
import { worstResult } from './results.js';
import type { BuildResult } from './results.js';
import { commandForStep, propertyPatterns } from './step-commands.js';
import { outcomeRows, stepResultWithTests, StepTestObserver, testsOfStep } from './step-tests.js';
import { WorkerLostError } from './worker-registry.js';
import type { CommandOutcome, ConnectedWorker, ReceivedReport } from './worker-registry.js';

/** The largest id a PostgreSQL `integer` column holds: "every change so far". */
const MAX_ID = 2 ** 31 - 1;

/** What the scheduler hands the engine: a claimed request, its builder, a worker with a slot. */
export interface BuildAssignment {
  request: BuildRequestRecord;
  builder: ResolvedBuilder;
  worker: ConnectedWorker;
}

export interface BuildEngineDeps {
  storage: Storage;
  events: EventBus;
  clock: Clock;
  log: MasterLog;
  masterName: string;
}

export interface BuildOutcome {
  buildId: number;
  result: BuildResult;
  reason: string | null;
}

/** The result of a finished command, before the step's flunk/warn rules. */
function commandResult(step: ResolvedStep, outcome: CommandOutcome, stopped: boolean): { result: BuildResult; reason: string | null } {
  switch (outcome.reason) {
    case 'exited': {
      const code = outcome.exitCode;
      const decoded = code === null ? undefined : step.decodeRC?.[String(code)];
      if (decoded) return { result: decoded, reason: null };
      if (code === 0) return { result: 'success', reason: null };
      return { result: 'failure', reason: code === null ? `killed by ${outcome.signal ?? 'a signal'}` : `exit code ${code}` };
    }
    case 'timeout':
    case 'maxTime':
      return { result: 'failure', reason: outcome.message ?? outcome.reason };
    case 'interrupted':
      return { result: stopped ? 'cancelled' : 'exception', reason: outcome.message ?? 'interrupted' };
    case 'spawnFailed':
      return { result: 'exception', reason: outcome.message ?? 'the command could not start' };
  }
}

export class BuildRun {
  private stopReason: string | null = null;
  private current: string | undefined;
  private properties: Record<string, unknown> = {};
  private buildStartedAt = 0;
  buildId: number | undefined;
  private markCreated: (buildId: number) => void = () => {};
  /** Resolves with the build's id once its row exists (stop and the API need it). */
  readonly created = new Promise<number>((resolve) => (this.markCreated = resolve));

  constructor(private readonly deps: BuildEngineDeps, private readonly assignment: BuildAssignment) {}

  get request(): BuildRequestRecord {
    return this.assignment.request;
  }

  /**
   * Stops the build: the running command is interrupted and the remaining steps are skipped,
   * except `alwaysRun` ones (clean-ups); the build ends CANCELLED.
   */
  stop(reason: string): void {
    if (this.stopReason !== null) return;
    this.stopReason = reason;
    if (this.current) this.assignment.worker.interrupt(this.current, reason);
  }

  async run(): Promise<BuildOutcome> {
    const { storage, events, clock } = this.deps;
    const { request, builder, worker } = this.assignment;
    // What every build carries (docs/changes-and-schedulers.md, "Properties"); the scheduler's
    // own (scheduler, owner, force parameters) come with the request.
    this.properties = {
      scheduler: null, owner: null,
      ...builder.properties, ...request.properties,
      builder: builder.name, repository: request.repository, branch: request.branch, revision: request.revision,
      reason: request.reason, worker: worker.name, workername: worker.name,
    };
    const build = await storage.createBuild({
      requestId: request.id, builder: builder.name, worker: worker.name, master: this.deps.masterName,
      startedAt: clock.now(), properties: this.properties,
    });
    this.buildId = build.id;
    this.buildStartedAt = build.startedAt;
    this.markCreated(build.id);
    this.properties['buildnumber'] = build.number;
    await this.setBlamelist(build.id);
    events.publish({ type: 'build.started', buildId: build.id, builder: builder.name, number: build.number, worker: worker.name, requestId: request.id });

    const stepRecords = [];
    for (const [i, step] of builder.steps.entries()) stepRecords.push(await storage.addStep(build.id, i, step.name));

    let result: BuildResult = 'success';
    let reason: string | null = null;
    let halted = false;
    let lost = false;
    for (const [i, step] of builder.steps.entries()) {
      const record = stepRecords[i]!;
      const skip = lost || ((halted || this.stopReason !== null) && !step.alwaysRun);
      if (skip) {
        await storage.finishStep(record.id, 'skipped', clock.now());
        events.publish({ type: 'step.finished', buildId: build.id, step: i, name: step.name, result: 'skipped' });
        continue;
      }
      const stepOutcome = await this.runStep(build.id, record.id, i, step);
      const r = stepOutcome.result;
      // RETRY (the worker was lost, or decodeRC said so) ends the build here; the master puts
      // its request back in the queue.
      if (r === 'retry') {
        lost = true;
        result = 'retry';
        reason = stepOutcome.reason;
        continue;
      }
      if (r === 'failure') {
        if (step.flunkOnFailure) result = worstResult(result, 'failure');
        else if (step.warnOnFailure) result = worstResult(result, 'warnings');
        if (step.haltOnFailure) halted = true;
      } else if (r === 'warnings') {
        result = worstResult(result, 'warnings');
      } else if (r === 'exception' || r === 'cancelled') {
        result = worstResult(result, r);
        halted = true;
      }
    }
    if (this.stopReason !== null && !lost) {
      result = worstResult(result, 'cancelled');
      reason = this.stopReason;
    }
    await storage.finishBuild(build.id, result, clock.now(), reason);
    events.publish({ type: 'build.finished', buildId: build.id, builder: builder.name, number: build.number, result, reason });
    return { buildId: build.id, result, reason };
  }

  private async runStep(buildId: number, stepId: number, index: number, step: ResolvedStep): Promise<{ result: BuildResult; reason: string | null }> {
    const { storage, events, clock } = this.deps;
    const { request, builder, worker } = this.assignment;
    // An alwaysRun step that starts after a stop runs to its end; a stop that comes while this
    // step is being set up interrupts it as soon as its command exists.
    const stoppedBefore = this.stopReason !== null;
    await storage.startStep(stepId, clock.now());
    events.publish({ type: 'step.started', buildId, step: index, name: step.name });
    const log = await storage.createLog(stepId, 'stdio');
    const patterns = propertyPatterns(step);
    let propertiesChanged = false;
    // Test outcomes: a test step's output is parsed as it streams, a shell step's once it looks
    // like a test run. keel test's closing line ("FAILURE then SUCCESS") also warns by itself.
    let flakyRun = false;
    const tests = step.type === 'test' ? new StepTestObserver(step.format) : step.type === 'shell' ? new StepTestObserver(undefined) : undefined;
    const reports: ReceivedReport[] = [];
    const observe = patterns.length > 0 || tests !== undefined;
    const writer = new LogWriter(storage, log.id, 0, !observe ? undefined : (stream, text) => {
      tests?.feedLine(stream, text);
      // Most shell steps are no test run: after the first lines nothing needs them, and the log
      // writer then stores the rest without splitting (or inflating) it into lines.
      if (patterns.length === 0 && (tests === undefined || tests.done)) return false;
      if (stream !== 'o') return true;
      if (step.type === 'test' && /^Result: .+ then SUCCESS$/.test(text)) flakyRun = true;
      for (const [name, re] of patterns) {
        const m = re.exec(text);
        if (m) {
          this.properties[name] = m[1] ?? m[0];
          propertiesChanged = true;
        }
      }
      return true;
    });
    const env: Record<string, string> = {
      KEEL_BUILDER: builder.name, KEEL_BUILD_NUMBER: String(this.properties['buildnumber']),
      KEEL_BRANCH: request.branch ?? '', KEEL_REVISION: request.revision ?? '', KEEL_WORKER: worker.name,
    };
    let command;
    try {
      command = commandForStep(step, { builder, branch: request.branch, revision: request.revision, env, props: this.properties });
    } catch (err) {
      if (!(err instanceof KeelError && err.code === 'KEEL_ERR_STEP_COMMAND')) throw err;
      await writer.append('h', `${err.message}\n`);
      await writer.finish();
      await storage.finishStep(stepId, 'exception', clock.now(), err.message);
      events.publish({ type: 'step.finished', buildId, step: index, name: step.name, result: 'exception' });
      return { result: 'exception', reason: err.message };
    }
    await writer.append('h', `${command.argv.map((a) => (/^[\w./=:-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}\n in dir ${command.workdir} (timeout ${step.timeout} s${step.maxTime ? `, maxTime ${step.maxTime} s` : ''})\n`);
    const started = clock.now();
    let outcome: { result: BuildResult; reason: string | null };
    try {
      const { commandId, done } = worker.runCommand(command, (chunks) => {
        // Synchronous appends keep batches in order; the last promise covers all writes so far.
        let stored: Promise<void> = Promise.resolve();
        for (const c of chunks) stored = 'stream' in c ? writer.append(c.stream, c.data) : writer.appendEncoded(c);
        events.publish({ type: 'log.lines', buildId, step: index, log: 'stdio', numLines: writer.linesWritten });
        return stored;
      }, (report) => reports.push(report));
      this.current = commandId;
      if (!stoppedBefore && this.stopReason !== null) worker.interrupt(commandId, this.stopReason);
      const finished = await done;
      outcome = commandResult(step, finished, !stoppedBefore && this.stopReason !== null);
      if (flakyRun && outcome.result === 'success') outcome = { result: 'warnings', reason: 'tests failed then passed when re-run' };
      if (tests !== undefined) {
        const { tests: stepTests, notes } = testsOfStep(tests.finish().tests, reports, step.type === 'test' ? step.format : 'auto');
        for (const note of notes) await writer.append('h', `${note}\n`);
        outcome = await this.recordTests(buildId, index, step, stepTests, outcome, finished.reason === 'exited');
      }
      const how = finished.reason === 'exited'
        ? (finished.exitCode !== null ? `exit code ${finished.exitCode}` : `signal ${finished.signal ?? '?'}`)
        : `${finished.reason}${finished.message ? `: ${finished.message}` : ''}`;
      await writer.append('h', `\nprogram finished with ${how}; elapsed ${((clock.now() - started) / 1000).toFixed(3)} s\n`);
    } catch (err) {
      if (!(err instanceof WorkerLostError)) throw err;
      outcome = { result: 'retry', reason: err.message };
      await writer.append('h', `\n${err.message}: the build will be retried\n`);
    } finally {
      this.current = undefined;
    }
    await writer.finish();
    if (propertiesChanged) await storage.setBuildProperties(buildId, this.properties);
    await storage.finishStep(stepId, outcome.result, clock.now(), outcome.reason);
    events.publish({ type: 'step.finished', buildId, step: index, name: step.name, result: outcome.result });
    return outcome;
  }

  /**
   * The build's blamelist: its request's changes and, on a branch, every change of that branch
   * since the changes of the builder's previous build there (so unimportant changes and those
   * of cancelled builds are blamed on the next build that contains them). A forced build of a
   * pinned revision with no changes of its own blames nothing.
   */
  private async setBlamelist(buildId: number): Promise<void> {
    const { storage } = this.deps;
    const { request, builder } = this.assignment;
    const own = await storage.listRequestChanges(request.id);
    const ids = new Set(own.map((c) => c.id));
    if (request.branch !== null) {
      const after = await storage.lastBlamedChangeId(builder.name, request.branch, buildId);
      const upTo = own.length > 0 ? Math.max(...ids) : request.revision === null ? MAX_ID : 0;
      if (after !== undefined && upTo > after) {
        const between = await storage.listChangesBetween({ branch: request.branch, repository: request.repository, afterId: after, upToId: upTo });
        for (const c of between) ids.add(c.id);
      }
    }
    if (ids.size > 0) await storage.setBuildChanges(buildId, [...ids].sort((a, b) => a - b));
  }

  /**
   * Stores the step's parsed test outcomes and lets them decide the step's result: failing
   * tests name themselves in the reason; flaky and quarantined ones only warn. A store that
   * fails is logged and the step keeps its command's result: the log still has everything.
   */
  private async recordTests(buildId: number, index: number, step: ResolvedStep, tests: readonly TestCaseResult[], command: { result: BuildResult; reason: string | null }, exited: boolean): Promise<{ result: BuildResult; reason: string | null }> {
    if (tests.length === 0) return command;
    const { storage, log } = this.deps;
    const { request, builder, worker } = this.assignment;
    try {
      const revision = this.properties['got_revision'] ?? request.revision ?? '';
      await storage.addTestOutcomes(outcomeRows(tests, {
        buildId, builder: builder.name, branch: request.branch ?? '', revision: String(revision), worker: worker.name,
        step: step.name, startedAt: this.buildStartedAt,
      }));
      const quarantined = new Set((await storage.listQuarantinedTests()).map((q) => q.testId));
      const { result, reason, verdict } = stepResultWithTests({ ...command, exited }, tests, quarantined);
      this.deps.events.publish({ type: 'tests.stored', buildId, step: index, name: step.name, total: tests.length, failed: verdict.failed.length, flaky: verdict.flaky.length });
      return { result, reason };
    } catch (err) {
      log.error(`storing the test outcomes of build ${buildId} step ${step.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      return command;
    }
  }
}
