// The public API of the `keel` package: what a keel.config.ts imports.
export {
  defineConfig, shell, git, test, gitPoller, githubHook, gitlabHook, genericHook, onChange, periodic, nightly, force,
} from './master/config.js';
export type {
  KeelConfig, BuilderConfig, WorkerConfig, StepConfig, ShellStepConfig, GitStepConfig, TestStepConfig, StepCommandContext,
  GitPollerConfig, GithubHookConfig, GitlabHookConfig, GenericHookConfig, OnChangeConfig, PeriodicConfig, NightlyConfig, ForceConfig,
  ResolvedConfig, ResolvedBuilder, ResolvedWorker, ResolvedStep, ResolvedSource, ConfigProblem,
} from './master/config.js';
export type { Change, RecordedChange } from './master/changes/change.js';
export { RESULTS, worstResult } from './master/results.js';
export type { BuildResult } from './master/results.js';
export { KeelError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';

// Test results: the one model of a test outcome and the parsers that read any log or report
// into it (docs/parsers.md), for tools that want what `keel parse` prints.
export { createParser, parseText } from './results/create-parser.js';
export { RESULT_FORMATS } from './results/result-parser.js';
export type { LineParser, LogStream, ParseResult, ResultFormat } from './results/result-parser.js';
export { countOutcomes, TEST_OUTCOMES } from './results/model.js';
export type { OutcomeCounts, TestCaseResult, TestOutcome } from './results/model.js';
