// The one storage interface the master, the API and later the insight code use. Every backend
// (SQLite, PostgreSQL) passes the same conformance suite (test/storage/storage-conformance.ts).
//
// Lifecycle: open with `openStorage` (which migrates), use, `close()` once. Concurrency: every
// method may be called concurrently; the ones that must be atomic across masters sharing one
// PostgreSQL (claiming a request, numbering a build) say so. Errors: a failing query rejects
// with the driver's error; absent rows come back as `undefined`, never as an error.
import type { TestOutcome } from '../results/model.js';
import type { Backend } from './migrations.js';

export type { Backend };

/** A line's stream: o = stdout, e = stderr, h = header (text written by Keel itself). */
export type LogStream = 'o' | 'e' | 'h';

export interface WorkerRecord {
  name: string;
  info: Record<string, unknown>;
  connected: boolean;
  lastSeen: number | null;
}

export interface BuilderRecord {
  name: string;
  description: string | null;
  tags: string[];
}

export interface NewBuildRequest {
  builder: string;
  repository?: string | null;
  branch?: string | null;
  revision?: string | null;
  reason?: string | null;
  properties?: Record<string, unknown>;
  submittedAt: number;
  /** Changes the request builds (issue 5), linked in the same transaction as the request. */
  changeIds?: readonly number[];
}

export interface BuildRequestRecord {
  id: number;
  builder: string;
  repository: string | null;
  branch: string | null;
  revision: string | null;
  reason: string | null;
  properties: Record<string, unknown>;
  submittedAt: number;
  claimedBy: string | null;
  claimedAt: number | null;
  completedAt: number | null;
  result: string | null;
  /** Set when the request was merged into another queued one (its result is then `merged`). */
  mergedInto: number | null;
}

export interface NewBuild {
  requestId: number;
  builder: string;
  worker: string;
  master: string;
  startedAt: number;
  properties?: Record<string, unknown>;
}

export interface BuildRecord {
  id: number;
  requestId: number;
  builder: string;
  number: number;
  worker: string;
  master: string;
  startedAt: number;
  finishedAt: number | null;
  /** Lower-case result (`success`, `retry` …), null while the build runs. */
  result: string | null;
  reason: string | null;
  properties: Record<string, unknown>;
}

export interface BuildQuery {
  builder?: string;
  result?: string;
  limit?: number;
  offset?: number;
}

export interface StepRecord {
  id: number;
  buildId: number;
  number: number;
  name: string;
  startedAt: number | null;
  finishedAt: number | null;
  result: string | null;
  reason: string | null;
}

export interface LogRecord {
  id: number;
  stepId: number;
  name: string;
  numLines: number;
  finished: boolean;
}

export interface LogLine {
  /** 0-based line number within the log. */
  n: number;
  stream: LogStream;
  text: string;
}

/** A compressed run of consecutive lines, made by `encodeLogChunk` in log-chunks.ts. */
export interface EncodedLogChunk {
  firstLine: number;
  lastLine: number;
  content: Uint8Array;
  rawBytes: number;
  /** Run-length streams of the lines, e.g. "o650e2o10". */
  streams: string;
}

/** One test's outcome in one build, as the build engine stores it (issue 6). */
export interface NewTestOutcome {
  buildId: number;
  builder: string;
  branch: string;
  revision: string;
  worker: string;
  /** The step's name. */
  step: string;
  testId: string;
  file: string;
  name: string;
  outcome: TestOutcome;
  attempt: number;
  durationMs: number | null;
  message: string | null;
  /** Cut to MAX_STORED_DETAILS characters on insert. */
  details: string | null;
  fingerprint: string | null;
  /** The build's start (epoch ms): every outcome of a build sorts together. */
  startedAt: number;
}

export interface TestOutcomeRow extends NewTestOutcome {
  id: number;
}

/** A traceback longer than this is cut when stored; the log keeps the whole of it. */
export const MAX_STORED_DETAILS = 16 * 1024;

/**
 * What the flaky and regression pass reads: no message nor details, so a million rows stay
 * small. The shape is insight's TestOutcomeRecord, with a null for a missing fingerprint.
 */
export interface InsightOutcomeRow {
  testId: string;
  buildId: number;
  builder: string;
  branch: string;
  revision: string;
  worker: string;
  outcome: TestOutcome;
  attempt: number;
  startedAt: number;
  fingerprint: string | undefined;
}

export interface InsightQuery {
  /** Only builds started at or after this (epoch ms). */
  since?: number;
  branch?: string;
  /**
   * listInsightOutcomes only: the tests that failed or errored in one of these builds, rather
   * than those that ever failed or flaked (what is red now can only be red in a latest build).
   */
  failedIn?: readonly number[];
}

/** The latest build of one lane (builder and branch) that stored any test outcome. */
export interface LaneBuild {
  builder: string;
  branch: string;
  buildId: number;
  revision: string;
  worker: string;
  startedAt: number;
}

/**
 * A change as a source reports it (src/master/changes/change.ts narrows `source`). `author` and
 * `committer` are `Name <email>`.
 */
export interface NewChange {
  repository: string;
  /** A branch name, or a full ref for tags and pull requests (`refs/pull/42/merge`). */
  branch: string;
  revision: string;
  author: string;
  committer?: string;
  /** Epoch ms: the commit's committer time when known, else when it was reported. */
  time: number;
  message: string;
  files: string[];
  link?: string;
  /** Free text the schedulers may filter on, e.g. `tag` or `pull-request`. */
  category?: string;
  /** poller, github, gitlab, generic, api. */
  source: string;
  /** e.g. the GitHub `owner/name`; informational. */
  project?: string;
  /** Extra facts a build may use as properties, e.g. `pullRequest: 12`. */
  properties?: Record<string, unknown>;
}

/** A stored change. Optional fields that were not given are absent (never null or undefined). */
export interface ChangeRecord extends NewChange {
  id: number;
  /** When Keel recorded it (epoch ms). */
  recordedAt: number;
}

export interface PollerTipsUpdate {
  repository: string;
  revisions: Record<string, string>;
  /** The tips the poll started from; null: the repository had never been polled. */
  expected?: Record<string, string> | null;
}

export interface ChangeQuery {
  repository?: string;
  branch?: string;
  /** Default 50. */
  limit?: number;
  offset?: number;
}

export interface QuarantineRecord {
  testId: string;
  reason: string | null;
  createdAt: number;
}

export interface Storage {
  readonly backend: Backend;

  upsertWorker(name: string, info: Record<string, unknown>, connected: boolean, now: number): Promise<void>;
  setWorkerConnected(name: string, connected: boolean, now: number): Promise<void>;
  /** Marks every worker disconnected: a starting master has no connections yet. */
  disconnectAllWorkers(): Promise<void>;
  listWorkers(): Promise<WorkerRecord[]>;

  /** Makes the builders table match the config (adds, updates; keeps removed ones for history). */
  syncBuilders(builders: BuilderRecord[]): Promise<void>;
  listBuilders(): Promise<BuilderRecord[]>;
  getBuilder(name: string): Promise<BuilderRecord | undefined>;

  addBuildRequest(req: NewBuildRequest): Promise<number>;
  getBuildRequest(id: number): Promise<BuildRequestRecord | undefined>;
  /** Unclaimed, incomplete requests, oldest first. */
  listQueuedRequests(builder?: string): Promise<BuildRequestRecord[]>;
  /**
   * Claims the oldest queued request of one of `builders` for `master`. Atomic: when several
   * masters race for one request, exactly one gets it.
   */
  claimBuildRequest(builders: readonly string[], master: string, now: number): Promise<BuildRequestRecord | undefined>;
  /** Puts a claimed request back in the queue (its build was retried or never started). */
  unclaimBuildRequest(id: number): Promise<void>;
  completeBuildRequest(id: number, result: string, now: number): Promise<void>;
  /**
   * What a restarting master does first: its unfinished builds end with `result` and `reason`,
   * and the requests it had claimed go back to the queue. Returns the ids of the builds ended.
   */
  releaseMaster(master: string, result: string, reason: string, now: number): Promise<number[]>;

  /** Creates a build with the next number of its builder (atomic across masters). */
  createBuild(build: NewBuild): Promise<BuildRecord>;
  finishBuild(id: number, result: string, finishedAt: number, reason?: string | null): Promise<void>;
  setBuildProperties(id: number, properties: Record<string, unknown>): Promise<void>;
  getBuild(id: number): Promise<BuildRecord | undefined>;
  /** Newest first. */
  listBuilds(query: BuildQuery): Promise<{ builds: BuildRecord[]; total: number }>;
  listBuildIdsForRequest(requestId: number): Promise<number[]>;

  addStep(buildId: number, number: number, name: string): Promise<StepRecord>;
  startStep(id: number, startedAt: number): Promise<void>;
  finishStep(id: number, result: string, finishedAt: number, reason?: string | null): Promise<void>;
  listSteps(buildId: number): Promise<StepRecord[]>;

  createLog(stepId: number, name: string): Promise<LogRecord>;
  /** The logs of the given steps, in creation order. */
  listLogs(stepIds: readonly number[]): Promise<LogRecord[]>;
  getLog(stepId: number, name: string): Promise<LogRecord | undefined>;
  /**
   * Appends consecutive chunks in one transaction; the first one's first line must be the log's
   * current line count.
   */
  appendLogChunks(logId: number, chunks: readonly EncodedLogChunk[]): Promise<void>;
  finishLog(logId: number): Promise<void>;
  /** Lines [first, first+count) — only the chunks that hold them are read and decompressed. */
  readLogLines(logId: number, first: number, count: number): Promise<LogLine[]>;
  /**
   * The log as plain text (no stream tags), chunk by chunk, never all in memory. `take(size)`
   * gives memory for a chunk's text where it is decoded here (a piece may be a view of it): a
   * caller that reuses buffers once they are written spares fresh memory for every chunk.
   */
  streamLogText(logId: number, take?: (size: number) => Buffer): AsyncIterable<Buffer>;

  /** Stores a build's test outcomes in one transaction: all of them or none. */
  addTestOutcomes(outcomes: readonly NewTestOutcome[]): Promise<void>;
  /** A build's outcomes in the order they were stored, optionally only some outcomes. */
  listTestOutcomes(buildId: number, outcomes?: readonly TestOutcome[]): Promise<TestOutcomeRow[]>;
  /** One test's outcomes, newest build first, at most `limit`. */
  testHistory(testId: string, limit: number): Promise<TestOutcomeRow[]>;
  /**
   * Every outcome of the tests that failed, errored or flaked at least once in the span, in
   * (test id, build start, build id) order: tests that only ever passed cannot be flaky nor
   * regressed, and most tests are those, so they are never read.
   */
  listInsightOutcomes(query: InsightQuery): Promise<InsightOutcomeRow[]>;
  /** The latest build of every lane (builder and branch) that stored test outcomes. */
  latestLaneBuilds(query: InsightQuery): Promise<LaneBuild[]>;
  /** Quarantines a test (by its whole id); false when it already was. */
  quarantineTest(testId: string, reason: string | null, now: number): Promise<boolean>;
  /** Lifts a quarantine; false when the test was not quarantined. */
  unquarantineTest(testId: string): Promise<boolean>;
  /** Sorted by test id. */
  listQuarantinedTests(): Promise<QuarantineRecord[]>;

  /**
   * Stores changes (oldest first) in one transaction and returns them with their ids, in the
   * same order. With `pollerTips`, a git poller's branch tips for its repository are replaced in
   * that same transaction: a crash between the two would lose changes or report them twice.
   * With `pollerTips.expected` (what getPollerTips said before the poll; null: never polled),
   * the tips are compared first, under a lock: if another master recorded this repository
   * meanwhile, nothing is stored and the call rejects with KEEL_ERR_CONFLICT.
   */
  recordChanges(changes: readonly NewChange[], now: number, pollerTips?: PollerTipsUpdate): Promise<ChangeRecord[]>;
  /** Branch → tip last stored by recordChanges' pollerTips for this repository; undefined if never. */
  getPollerTips(repository: string): Promise<Record<string, string> | undefined>;
  getChange(id: number): Promise<ChangeRecord | undefined>;
  /** Newest first. */
  listChanges(query: ChangeQuery): Promise<{ changes: ChangeRecord[]; total: number }>;
  /** Changes of a branch (and repository, when given) with ids in (afterId, upToId], oldest first. */
  listChangesBetween(query: { branch: string; repository?: string | null; afterId: number; upToId: number }): Promise<ChangeRecord[]>;
  /** The changes linked to a request: its own and those of the requests merged into it, oldest first. */
  listRequestChanges(requestId: number): Promise<ChangeRecord[]>;
  /**
   * Merges queued requests into another (claimed) one, atomically: each of `absorbIds` that is
   * still queued (unclaimed, incomplete) completes with result `merged` and mergedInto =
   * `intoId`, its changes are linked to `intoId`, and `intoId` takes `revision` (only if any was
   * merged: with none, it keeps its own). Returns the ids merged; one claimed meanwhile (by
   * another master) is left alone. A merged request is never claimed: it is complete.
   */
  mergeBuildRequests(intoId: number, absorbIds: readonly number[], revision: string | null, now: number): Promise<number[]>;
  /** A build's blamelist: its changes, set once when the build starts. */
  setBuildChanges(buildId: number, changeIds: readonly number[]): Promise<void>;
  /** Oldest first. */
  listBuildChanges(buildId: number): Promise<ChangeRecord[]>;
  /**
   * The highest change id in the blamelists of this builder's builds before `beforeBuildId` on
   * this branch (the branch of the build's request); undefined if none.
   */
  lastBlamedChangeId(builder: string, branch: string, beforeBuildId: number): Promise<number | undefined>;
  /**
   * The blamelists of a builder's builds on a branch with build ids in (afterBuildId,
   * upToBuildId], united, oldest change first: what changed between two builds of a lane.
   */
  listBlamelistsBetween(builder: string, branch: string, afterBuildId: number, upToBuildId: number): Promise<ChangeRecord[]>;

  close(): Promise<void>;
}
