// The on-change scheduler: builds when changes land on matching branches, waiting for the tree to
// be stable for treeStableTimer seconds so a burst of pushes gives one build holding them all.
import type { RecordedChange } from '../changes/change.js';
import type { CancelTimer } from '../timer-clock.js';
import {
  branchMatcher, checkBuilders, checkSeconds, InFlight, submitToAll, type BranchFilter, type Scheduler, type SchedulerDeps,
} from './scheduler.js';

export interface OnChangeOptions {
  name?: string;
  builders: string[];
  /** Which branches: a name, a RegExp over the whole name, or a predicate; default every branch. */
  branch?: BranchFilter;
  /** Only changes of this repository; default any. */
  repository?: string;
  /**
   * Seconds without a new important change before building; 0 (default) builds at once. Each
   * branch (of each repository) has its own timer.
   */
  treeStableTimer?: number;
  /** Whether a change matters (say, not only docs/); default every change does. */
  fileIsImportant?: (change: RecordedChange) => boolean;
  /**
   * false (default): an unimportant change starts no build but rides along in the next one, so
   * the blamelist is complete. true: unimportant changes are dropped.
   */
  onlyImportant?: boolean;
  properties?: Record<string, unknown>;
}

interface Pending { repository: string; branch: string; changes: RecordedChange[]; important: boolean; cancel?: CancelTimer }

export function onChangeScheduler(options: OnChangeOptions, deps: SchedulerDeps): Scheduler {
  const name = options.name ?? 'on-change';
  const who = `onChange scheduler ${name}`;
  const builders = checkBuilders(options.builders, who);
  const matches = branchMatcher(options.branch, who);
  const stableMs = checkSeconds(options.treeStableTimer ?? 0, who, 'treeStableTimer', true) * 1000;
  const pending = new Map<string, Pending>();
  const inFlight = new InFlight();
  let running = false;

  function fire(key: string): void {
    const entry = pending.get(key);
    if (!entry || !entry.important) return;
    pending.delete(key);
    const { changes } = entry;
    const newest = changes[changes.length - 1]!;
    inFlight.add(submitToAll(deps, builders, {
      scheduler: name,
      reason: `${changes.length} change(s) on ${entry.branch}`,
      repository: entry.repository, branch: entry.branch, revision: newest.revision, changes,
      properties: { ...options.properties, scheduler: name },
    }));
  }

  return {
    name,
    builders,
    start() { running = true; },
    addChange(change) {
      if (!running || !matches(change.branch)) return;
      if (options.repository !== undefined && change.repository !== options.repository) return;
      const important = options.fileIsImportant ? options.fileIsImportant(change) : true;
      if (!important && options.onlyImportant) return;
      const key = JSON.stringify([change.repository, change.branch]);
      const entry = pending.get(key) ?? { repository: change.repository, branch: change.branch, changes: [], important: false };
      pending.set(key, entry);
      entry.changes.push(change);
      entry.important ||= important;
      // An important change (re)starts the wait; so does any change while a wait is running, as
      // the tree is still moving. An unimportant change alone only waits for the next build.
      if (!important && !entry.cancel) return;
      entry.cancel?.();
      entry.cancel = undefined;
      if (stableMs === 0) fire(key);
      else entry.cancel = deps.clock.setTimer(stableMs, () => { entry.cancel = undefined; fire(key); });
    },
    async stop() {
      running = false;
      for (const entry of pending.values()) entry.cancel?.();
      pending.clear();
      await inFlight.settle();
    },
  };
}
