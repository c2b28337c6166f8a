// The database schema as Kysely sees it: one interface per table. Both backends (SQLite and
// PostgreSQL) hold the same columns; timestamps are epoch milliseconds, JSON is stored as text.
import type { Generated } from 'kysely';

export interface WorkersTable {
  id: Generated<number>;
  name: string;
  /** JSON of the worker's self-description (os, node version, …) sent in its handshake. */
  info: string;
  connected: number;
  last_seen: number | null;
}

export interface BuildersTable {
  id: Generated<number>;
  name: string;
  description: string | null;
  /** JSON array of strings. */
  tags: string;
}

export interface BuildRequestsTable {
  id: Generated<number>;
  builder: string;
  repository: string | null;
  branch: string | null;
  revision: string | null;
  reason: string | null;
  /** JSON object of build properties given at submission. */
  properties: string;
  submitted_at: number;
  /** The master that holds the request while a build of it runs; null while queued. */
  claimed_by: string | null;
  claimed_at: number | null;
  completed_at: number | null;
  result: string | null;
  /** The request this one was merged into while both were queued (result `merged`); else null. */
  merged_into: number | null;
}

export interface BuildsTable {
  id: Generated<number>;
  request_id: number;
  builder: string;
  /** Per-builder build number, 1, 2, 3 … */
  number: number;
  worker: string;
  master: string;
  started_at: number;
  finished_at: number | null;
  result: string | null;
  /** Why the build ended as it did when that is not obvious from its steps (lost worker, stop …). */
  reason: string | null;
  properties: string;
}

export interface StepsTable {
  id: Generated<number>;
  build_id: number;
  number: number;
  name: string;
  started_at: number | null;
  finished_at: number | null;
  result: string | null;
  reason: string | null;
}

export interface LogsTable {
  id: Generated<number>;
  step_id: number;
  name: string;
  num_lines: Generated<number>;
  finished: Generated<number>;
}

export interface LogChunksTable {
  log_id: number;
  first_line: number;
  last_line: number;
  /** deflate-raw of the chunk's lines, each ending in "\n". */
  content: Uint8Array;
  /** Which stream each line came from, run-length: "o650e2o10". */
  streams: string;
  raw_bytes: number;
}

/** One test's outcome in one build (issue 6 part 4): what the insight rules read back. */
export interface TestOutcomesTable {
  id: Generated<number>;
  build_id: number;
  builder: string;
  branch: string;
  revision: string;
  worker: string;
  /** The step's name: a build may run several test steps. */
  step: string;
  test_id: string;
  file: string;
  name: string;
  /** pass | fail | error | skip | xfail | flaky (the result model's outcomes). */
  outcome: string;
  attempt: number;
  duration_ms: number | null;
  message: string | null;
  /** The traceback, cut to MAX_STORED_DETAILS characters. */
  details: string | null;
  fingerprint: string | null;
  /** The build's start, so every outcome of a build sorts together. */
  started_at: number;
}

/** Each build that stored test outcomes, once: the lane, revision and worker its rows share. */
export interface TestBuildsTable {
  build_id: number;
  builder: string;
  branch: string;
  revision: string;
  worker: string;
  started_at: number;
}

/** Tests whose failures no longer turn a build red; they still run and are recorded. */
export interface QuarantinedTestsTable {
  test_id: string;
  reason: string | null;
  created_at: number;
}

/** One change a source reported (issue 5); the optional fields are null when not given. */
export interface ChangesTable {
  id: Generated<number>;
  repository: string;
  branch: string;
  revision: string;
  author: string;
  committer: string | null;
  /** The commit's time (epoch ms). */
  time: number;
  message: string;
  /** JSON array of the paths the change touched. */
  files: string;
  link: string | null;
  category: string | null;
  /** poller, github, gitlab, generic, api. */
  source: string;
  project: string | null;
  /** JSON object, or null when the source gave none. */
  properties: string | null;
  recorded_at: number;
}

/**
 * A git poller's branch tips, per repository. Every repository stored also has one row with the
 * empty branch name (which no git ref can have) and an empty revision: it tells a repository
 * polled with no branches (`{}`) from one never polled (undefined).
 */
export interface PollerTipsTable {
  repository: string;
  branch: string;
  revision: string;
}

/** The changes a build request builds, its own and those of the requests merged into it. */
export interface RequestChangesTable {
  request_id: number;
  change_id: number;
}

/** A build's blamelist, set when the build starts. */
export interface BuildChangesTable {
  build_id: number;
  change_id: number;
}

export interface KeelDatabase {
  workers: WorkersTable;
  builders: BuildersTable;
  build_requests: BuildRequestsTable;
  builds: BuildsTable;
  steps: StepsTable;
  logs: LogsTable;
  log_chunks: LogChunksTable;
  test_outcomes: TestOutcomesTable;
  test_builds: TestBuildsTable;
  quarantined_tests: QuarantinedTestsTable;
  changes: ChangesTable;
  poller_tips: PollerTipsTable;
  request_changes: RequestChangesTable;
  build_changes: BuildChangesTable;
}
