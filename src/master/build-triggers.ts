// What starts builds without anyone pressing a button: the config's git pollers and schedulers,
// and the one way in for changes (pollers, webhooks), which stores them and then hands each to
// every scheduler in id order.
import type { Change, RecordedChange } from './changes/change.js';
import { gitPoller } from './changes/git-poller.js';
import type { ChangeSink, GitPoller } from './changes/git-poller.js';
import type { ResolvedConfig } from './config.js';
import type { EventBus } from './events.js';
import type { MasterLog } from './master-deps.js';
import { createSchedulers, forceSchedulersFor } from './schedulers/create-schedulers.js';
import type { ForceScheduler } from './schedulers/force-scheduler.js';
import type { BuildRequestSubmitter, Scheduler } from './schedulers/scheduler.js';
import type { TimerClock } from './timer-clock.js';
import type { ChangeRecord, PollerTipsUpdate, Storage } from '../storage/storage.js';

export interface BuildTriggersDeps {
  storage: Storage;
  events: EventBus;
  log: MasterLog;
  clock: TimerClock;
  submitter: BuildRequestSubmitter;
  /** Where the git pollers keep their bare mirrors. */
  workdir: string;
}

export class BuildTriggers {
  readonly schedulers: Scheduler[];
  private readonly pollers: GitPoller[];
  // Changes are handed to the schedulers in id order even when two sources record at once.
  private intake: Promise<unknown> = Promise.resolve();

  constructor(config: ResolvedConfig, private readonly deps: BuildTriggersDeps) {
    this.schedulers = createSchedulers(config.schedulers, { clock: deps.clock, submitter: deps.submitter, log: deps.log });
    const sink: ChangeSink = {
      lastRevisions: (repository) => deps.storage.getPollerTips(repository),
      record: async (repository, changes, revisions, previous) => {
        await this.addChanges(changes, { repository, revisions, expected: previous ?? null });
      },
    };
    this.pollers = config.sources.flatMap((source) => (source.type === 'gitPoller'
      ? [gitPoller(source, { sink, clock: deps.clock, log: deps.log, workdir: deps.workdir })]
      : []));
  }

  start(): void {
    for (const s of this.schedulers) s.start();
    for (const p of this.pollers) p.start();
  }

  /**
   * Stores changes (with a poller's new tips, in the same transaction), says so on the event
   * bus and feeds them to the schedulers. Resolves with the stored changes.
   */
  addChanges(changes: readonly Change[], pollerTips?: PollerTipsUpdate): Promise<RecordedChange[]> {
    const done = this.intake.then(async () => {
      const stored = (await this.deps.storage.recordChanges(changes, Date.now(), pollerTips)).map(asRecordedChange);
      for (const change of stored) {
        this.deps.events.publish({ type: 'change.added', changeId: change.id, repository: change.repository, branch: change.branch, revision: change.revision });
        for (const scheduler of this.schedulers) {
          try {
            scheduler.addChange(change);
          } catch (err) {
            // A user's fileIsImportant may throw; that scheduler misses the change, the others do not.
            this.deps.log.error(`scheduler ${scheduler.name} failed on change ${change.id}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
      }
      return stored;
    });
    this.intake = done.catch(() => {});
    return done;
  }

  forceSchedulersFor(builder: string): ForceScheduler[] {
    return forceSchedulersFor(this.schedulers, builder);
  }

  /** Pollers first (no new changes), then the schedulers' timers and submissions under way. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.pollers.map((p) => p.stop()));
    await this.intake;
    await Promise.allSettled(this.schedulers.map((s) => s.stop()));
  }
}

/** A stored change as the schedulers take it: the storage keeps `source` as plain text. */
function asRecordedChange(record: ChangeRecord): RecordedChange {
  const { recordedAt: _recordedAt, ...change } = record;
  return change as RecordedChange;
}
