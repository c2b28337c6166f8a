// A clock that can also wake its caller later, so pollers and schedulers run under a fake clock in
// tests and under the real one in the master.
import type { Clock } from './master-deps.js';

/** Cancels a timer; calling it after the timer fired, or twice, does nothing. */
export type CancelTimer = () => void;

export interface TimerClock extends Clock {
  /** Calls `fn` once, `ms` milliseconds from now (by this clock). */
  setTimer(ms: number, fn: () => void): CancelTimer;
}

export const systemTimerClock: TimerClock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    // Node's timers overflow past 2^31-1 ms (about 24.8 days) and fire at once; a far timer
    // is re-armed in steps instead.
    const MAX = 2 ** 31 - 1;
    let handle: NodeJS.Timeout;
    const arm = (left: number): void => {
      handle = setTimeout(() => (left > MAX ? arm(left - MAX) : fn()), Math.min(Math.max(0, left), MAX));
      handle.unref?.();
    };
    arm(ms);
    return () => clearTimeout(handle);
  },
};
