// The nightly scheduler: builds at the times a cron expression names, optionally only when the
// branch changed since its last build.
import { Cron } from 'croner';
import { KeelError } from '../../errors.js';
import type { RecordedChange } from '../changes/change.js';
import type { CancelTimer } from '../timer-clock.js';
import { checkBuilders, InFlight, submitToAll, type Scheduler, type SchedulerDeps } from './scheduler.js';

export interface NightlyOptions {
  name?: string;
  builders: string[];
  /** Five fields (minute hour day-of-month month day-of-week) or six with seconds first. */
  cron: string;
  /** IANA time zone the cron times are in; default UTC, so a master's host setting cannot move builds. */
  timezone?: string;
  /** The branch to build (and whose changes count); default the builder's own. */
  branch?: string;
  repository?: string;
  /** Build only if an important change landed on the branch since the last build. */
  onlyIfChanged?: boolean;
  fileIsImportant?: (change: RecordedChange) => boolean;
  properties?: Record<string, unknown>;
}

export interface NightlyScheduler extends Scheduler {
  /** When the next build is due (epoch ms), or undefined when stopped. */
  nextRunAt(): number | undefined;
}

export function nightlyScheduler(options: NightlyOptions, deps: SchedulerDeps): NightlyScheduler {
  const name = options.name ?? 'nightly';
  const who = `nightly scheduler ${name}`;
  const builders = checkBuilders(options.builders, who);
  let cron: Cron;
  try {
    cron = new Cron(options.cron, { timezone: options.timezone ?? 'UTC', paused: true });
  } catch (err) {
    throw new KeelError('KEEL_ERR_SCHEDULER_INVALID', `${who}: cron ${JSON.stringify(options.cron)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!cron.nextRun(new Date(0))) throw new KeelError('KEEL_ERR_SCHEDULER_INVALID', `${who}: cron ${JSON.stringify(options.cron)} never fires`);
  const inFlight = new InFlight();
  let changes: RecordedChange[] = [];
  let important = false;
  let cancel: CancelTimer | undefined;
  let due: number | undefined;

  function arm(): void {
    const next = cron.nextRun(new Date(deps.clock.now()));
    due = next?.getTime();
    if (due === undefined) return;
    cancel = deps.clock.setTimer(due - deps.clock.now(), () => {
      if (options.onlyIfChanged && !important) {
        deps.log.info(`${who}: no change on ${options.branch ?? 'the branch'} since the last build; not building`);
      } else {
        const held = changes;
        inFlight.add(submitToAll(deps, builders, {
          scheduler: name, reason: `cron ${options.cron}`, branch: options.branch, repository: options.repository,
          // The tip at build time, not the newest change seen: a nightly build is of the branch.
          changes: held, properties: { ...options.properties, scheduler: name },
        }));
      }
      changes = [];
      important = false;
      arm();
    });
  }

  return {
    name,
    builders,
    nextRunAt: () => due,
    start() {
      if (!cancel) arm();
    },
    addChange(change) {
      if (options.branch !== undefined && change.branch !== options.branch) return;
      if (options.repository !== undefined && change.repository !== options.repository) return;
      changes.push(change);
      important ||= options.fileIsImportant ? options.fileIsImportant(change) : true;
    },
    async stop() {
      cancel?.();
      cancel = undefined;
      due = undefined;
      await inFlight.settle();
    },
  };
}
