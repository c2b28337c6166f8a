// The small interfaces the master's parts are given instead of reaching for globals.

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export interface MasterLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const systemClock: Clock = { now: () => Date.now() };

export const silentLog: MasterLog = { info: () => {}, warn: () => {}, error: () => {} };
