// The public API of the `keel` package: what a keel.config.ts imports.
export { defineConfig, shell, git, test } from './master/config.js';
export type {
  KeelConfig, BuilderConfig, WorkerConfig, StepConfig, ShellStepConfig, GitStepConfig, TestStepConfig,
  ResolvedConfig, ResolvedBuilder, ResolvedWorker, ResolvedStep, ConfigProblem,
} from './master/config.js';
export { RESULTS, worstResult } from './master/results.js';
export type { BuildResult } from './master/results.js';
export { KeelError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
