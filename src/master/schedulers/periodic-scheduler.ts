// The periodic scheduler: builds its builders every N seconds, at the tip of a branch.
import type { CancelTimer } from '../timer-clock.js';
import { checkBuilders, checkSeconds, InFlight, submitToAll, type Scheduler, type SchedulerDeps } from './scheduler.js';

export interface PeriodicOptions {
  name?: string;
  builders: string[];
  /** Seconds between builds; the first comes `every` seconds after start. */
  every: number;
  /** The branch to build; default the builder's own (its git step's). */
  branch?: string;
  repository?: string;
  properties?: Record<string, unknown>;
}

export function periodicScheduler(options: PeriodicOptions, deps: SchedulerDeps): Scheduler {
  const name = options.name ?? 'periodic';
  const who = `periodic scheduler ${name}`;
  const builders = checkBuilders(options.builders, who);
  const everyMs = checkSeconds(options.every, who, 'every') * 1000;
  const inFlight = new InFlight();
  let cancel: CancelTimer | undefined;
  let next = 0;

  function arm(): void {
    cancel = deps.clock.setTimer(next - deps.clock.now(), () => {
      inFlight.add(submitToAll(deps, builders, {
        scheduler: name, reason: `every ${everyMs / 1000}s`, branch: options.branch, repository: options.repository,
        changes: [], properties: { ...options.properties, scheduler: name },
      }));
      // Fixed rate from the start; if the master was stalled past several periods, one build
      // makes up for all of them.
      const now = deps.clock.now();
      next += everyMs;
      if (next <= now) next = now + everyMs - ((now - next) % everyMs);
      arm();
    });
  }

  return {
    name,
    builders,
    start() {
      if (cancel) return;
      next = deps.clock.now() + everyMs;
      arm();
    },
    addChange() {},
    async stop() {
      cancel?.();
      cancel = undefined;
      await inFlight.settle();
    },
  };
}
