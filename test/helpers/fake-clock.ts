// A TimerClock whose time moves only when a test says so; timers fire in time order.
import type { CancelTimer, TimerClock } from '../../src/master/timer-clock.js';

interface PendingTimer { at: number; seq: number; fn: () => void }

export class FakeClock implements TimerClock {
  private time: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(start: number | string = 0) {
    this.time = typeof start === 'string' ? Date.parse(start) : start;
  }

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): CancelTimer {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => { this.timers = this.timers.filter((t) => t !== timer); };
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward, firing each timer due on the way at its own time (timers it sets included). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let timer = this.nextDue(end); timer; timer = this.nextDue(end)) timer.fn();
    this.time = end;
  }

  /** As advance, letting promise callbacks run after each timer so async work started by one settles. */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.time + ms;
    for (let timer = this.nextDue(end); timer; timer = this.nextDue(end)) {
      timer.fn();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.time = end;
  }

  /** Takes the earliest timer due by `end` off the list and moves time to it. */
  private nextDue(end: number): PendingTimer | undefined {
    const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
    if (!next) return undefined;
    this.timers = this.timers.filter((t) => t !== next);
    this.time = next.at;
    return next;
  }
}
