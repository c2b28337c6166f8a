// What every scheduler is and is given: it hears recorded changes and the clock, and turns them
// into build requests through a submitter the master implements (storing them in the queue).
import { KeelError } from '../../errors.js';
import type { RecordedChange } from '../changes/change.js';
import type { MasterLog } from '../master-deps.js';
import type { TimerClock } from '../timer-clock.js';

/**
 * A wish to run one builder, as a scheduler makes it. `revision` undefined means the branch's tip
 * when the build starts. `properties` holds what the scheduler knows (its name, the reason, the
 * force parameters, its own `properties` option); the build engine adds buildnumber, workername.
 */
export interface BuildRequestInput {
  builder: string;
  scheduler: string;
  reason: string;
  repository?: string;
  branch?: string;
  revision?: string;
  /** Oldest first; the build's blamelist starts from them. */
  changes: RecordedChange[];
  properties: Record<string, unknown>;
  /** Who asked, for a forced build. */
  owner?: string;
}

/**
 * Where requests go. The master's implementation stores each in the build queue (where queued
 * requests may merge, see request-merge.ts). A rejection is logged by the scheduler and the
 * request is lost; the scheduler itself goes on.
 */
export interface BuildRequestSubmitter {
  /** Resolves with the queue's id for the request, when the queue gives one. */
  submit(request: BuildRequestInput): Promise<number | void>;
}

export interface SchedulerDeps {
  clock: TimerClock;
  submitter: BuildRequestSubmitter;
  log: MasterLog;
}

/**
 * A running scheduler. Lifecycle: created from its options (which it validates, throwing
 * KEEL_ERR_SCHEDULER_INVALID), `start()` arms its timers, `addChange` is called by the master for
 * every recorded change in id order (schedulers that do not care ignore it), `stop()` cancels the
 * timers and waits for submissions under way. State (changes waiting for a timer) is in memory.
 */
export interface Scheduler {
  readonly name: string;
  readonly builders: readonly string[];
  start(): void;
  addChange(change: RecordedChange): void;
  stop(): Promise<void>;
}

/** A branch filter as the config writes it; undefined matches every branch. */
export type BranchFilter = string | RegExp | ((branch: string) => boolean);

export function branchMatcher(filter: BranchFilter | undefined, who: string): (branch: string) => boolean {
  if (filter === undefined) return () => true;
  if (typeof filter === 'string') return (branch) => branch === filter;
  // A RegExp matches the whole name: /release-.*/ should not pass 'old-release-1'.
  if (filter instanceof RegExp) return (branch) => new RegExp(`^(?:${filter.source})$`, filter.flags.replace('g', '')).test(branch);
  if (typeof filter === 'function') return filter;
  throw new KeelError('KEEL_ERR_SCHEDULER_INVALID', `${who}: branch must be a string, a RegExp or a function`);
}

export function checkBuilders(builders: unknown, who: string): string[] {
  if (!Array.isArray(builders) || builders.length === 0 || !builders.every((b) => typeof b === 'string' && b !== '')) {
    throw new KeelError('KEEL_ERR_SCHEDULER_INVALID', `${who}: builders must be a non-empty list of builder names`);
  }
  return [...builders];
}

export function checkSeconds(value: unknown, who: string, field: string, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new KeelError('KEEL_ERR_SCHEDULER_INVALID', `${who}: ${field} must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds, got ${String(value)}`);
  }
  return value;
}

/**
 * Submits one request per builder; a failure is logged, not thrown, since a scheduler runs on
 * timers where nobody would catch it. Returns when every submission has settled.
 */
export async function submitToAll(deps: SchedulerDeps, builders: readonly string[], request: Omit<BuildRequestInput, 'builder'>): Promise<void> {
  await Promise.all(builders.map(async (builder) => {
    try {
      await deps.submitter.submit({ ...request, builder });
    } catch (err) {
      deps.log.error(`scheduler ${request.scheduler}: could not submit a build request for ${builder}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }));
}

/** Tracks promises under way so stop() can wait for them. */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();
  add(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
