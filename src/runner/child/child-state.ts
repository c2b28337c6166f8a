// State shared by the modules of the child side inside one test process.
import { send } from './channel.js';
import { envChanges, type EnvSnapshot, takeSnapshot } from './env-watch.js';

interface ChildState {
  snapshot: EnvSnapshot;
  /** node:test was set up: the file declared at least one test. */
  testsStarted: boolean;
  ended: boolean;
  /**
   * Names of the top-level tests the in-process driver adds to mark the end of a run (see
   * one-process-driver.ts): they are Keel's, not the file's, so they are never reported.
   */
  barriers: Set<string>;
}

export const childState: ChildState = { snapshot: takeSnapshot(), testsStarted: false, ended: false, barriers: new Set() };

/** Sends the end of the file's run once; `complete` says whether every registered test ended. */
export function finish(complete: boolean, leftovers?: Map<string, number>): void {
  if (childState.ended) return;
  childState.ended = true;
  send({ t: 'end', complete, envChanges: envChanges(childState.snapshot, leftovers) });
}
