// Schedulers from the plain objects a config holds (`{ type: 'onChange', … }`): what the master
// calls at start, so that a config helper only has to return the object.
import { KeelError } from '../../errors.js';
import { forceScheduler, type ForceOptions, type ForceScheduler } from './force-scheduler.js';
import { nightlyScheduler, type NightlyOptions } from './nightly-scheduler.js';
import { onChangeScheduler, type OnChangeOptions } from './on-change-scheduler.js';
import { periodicScheduler, type PeriodicOptions } from './periodic-scheduler.js';
import type { Scheduler, SchedulerDeps } from './scheduler.js';

export type SchedulerConfig =
  | ({ type: 'onChange' } & OnChangeOptions)
  | ({ type: 'periodic' } & PeriodicOptions)
  | ({ type: 'nightly' } & NightlyOptions)
  | ({ type: 'force' } & ForceOptions);

/**
 * Builds every scheduler, naming the unnamed `<type>` or `<type>-2`, … (names identify a
 * scheduler in build properties and the API, so two may not share one). Throws
 * KEEL_ERR_SCHEDULER_INVALID on the first bad one, naming its index. Nothing is started.
 */
export function createSchedulers(configs: readonly SchedulerConfig[], deps: SchedulerDeps): Scheduler[] {
  const taken = new Set(configs.map((c) => c.name).filter((n): n is string => n !== undefined));
  const seen = new Set<string>();
  return configs.map((config, i) => {
    let name = config.name;
    if (name === undefined) {
      name = kebab(config.type);
      for (let n = 2; taken.has(name); n++) name = `${kebab(config.type)}-${n}`;
      taken.add(name);
    }
    if (seen.has(name)) throw new KeelError('KEEL_ERR_SCHEDULER_INVALID', `schedulers.${i}: the name ${name} is used twice`);
    seen.add(name);
    const named = { ...config, name };
    try {
      switch (named.type) {
        case 'onChange': return onChangeScheduler(named, deps);
        case 'periodic': return periodicScheduler(named, deps);
        case 'nightly': return nightlyScheduler(named, deps);
        case 'force': return forceScheduler(named, deps);
        default: throw new KeelError('KEEL_ERR_SCHEDULER_INVALID', `type ${JSON.stringify((named as { type: unknown }).type)} is not onChange, periodic, nightly or force`);
      }
    } catch (err) {
      if (err instanceof KeelError) throw new KeelError(err.code, `schedulers.${i}: ${err.message}`, { cause: err });
      throw err;
    }
  });
}

/** The force schedulers that list a builder: what the force endpoint looks up. */
export function forceSchedulersFor(schedulers: readonly Scheduler[], builder: string): ForceScheduler[] {
  return schedulers.filter((s): s is ForceScheduler => 'force' in s && s.builders.includes(builder));
}

function kebab(type: string): string {
  return type.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
