// The overall result of a run and its exit code, as libregrtest computes them.
import { FAILING_STATES, type FileRun } from './file-result.js';

export type PassState = 'SUCCESS' | 'FAILURE' | 'ENV CHANGED' | 'NO TESTS RAN' | 'INTERRUPTED';

export const EXIT_CODES = {
  SUCCESS: 0,
  FAILURE: 2,
  'ENV CHANGED': 3,
  'NO TESTS RAN': 4,
  RERUN_FAILED: 5,
  INTERRUPTED: 130,
} as const;

export interface PassFacts {
  runs: readonly FileRun[];
  interrupted: boolean;
  failEnvChanged: boolean;
}

/** One pass's state; `worker bug` is added after a comma, as regrtest does. */
export function passState(p: PassFacts): { state: PassState; text: string } {
  const workerBug = p.runs.some((r) => r.state === 'worker bug');
  let state: PassState;
  if (p.interrupted) state = 'INTERRUPTED';
  else if (p.runs.some((r) => FAILING_STATES.has(r.state))) state = 'FAILURE';
  else if (p.failEnvChanged && p.runs.some((r) => r.envChanges.length > 0)) state = 'ENV CHANGED';
  else if (p.runs.every((r) => r.tests.length === 0 || r.state === 'no tests ran')) state = 'NO TESTS RAN';
  else state = 'SUCCESS';
  return { state, text: workerBug ? `${state}, WORKER BUG` : state };
}

export interface RunVerdict {
  /** What the `Result:` line says, e.g. `FAILURE then SUCCESS`. */
  text: string;
  exitCode: number;
}

/**
 * The run's verdict from its first pass and, when failed files were re-run, the re-run.
 * With `--fail-rerun`, a run saved only by its re-run fails, and the Result line says why
 * (regrtest changes only the exit code, which leaves readers of the log guessing).
 */
export function verdict(first: { state: PassState; text: string }, rerun: { state: PassState; text: string } | null, failRerun: boolean): RunVerdict {
  if (!rerun) return { text: first.text, exitCode: EXIT_CODES[first.state] };
  const text = `${first.text} then ${rerun.text}`;
  if (rerun.state === 'INTERRUPTED') return { text, exitCode: EXIT_CODES.INTERRUPTED };
  if (rerun.state === 'SUCCESS' || rerun.state === 'NO TESTS RAN') {
    if (first.state === 'FAILURE' && failRerun) return { text: `${text} (failed by --fail-rerun)`, exitCode: EXIT_CODES.RERUN_FAILED };
    return { text, exitCode: first.state === 'FAILURE' ? 0 : EXIT_CODES[first.state] };
  }
  return { text, exitCode: EXIT_CODES[rerun.state] };
}
