// The Storage interface over Kysely: the same queries for SQLite (better-sqlite3, WAL) and
// PostgreSQL (pg). Only the connection set-up and migrations' column kinds differ by backend.
import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import { KeelError } from '../errors.js';
import { TEST_OUTCOMES } from '../results/model.js';
import type { TestOutcome } from '../results/model.js';
import { chunkText, decodeLogChunk } from './log-chunks.js';
import type { Backend } from './migrations.js';
import type {
  BuilderRecord, BuildQuery, BuildRecord, BuildRequestRecord, ChangeQuery, ChangeRecord, EncodedLogChunk, InsightOutcomeRow,
  InsightQuery, LaneBuild, LogLine, LogRecord, NewBuild, NewBuildRequest, NewChange, NewTestOutcome, PollerTipsUpdate, QuarantineRecord,
  StepRecord, Storage, TestOutcomeRow, WorkerRecord,
} from './storage.js';
import { MAX_STORED_DETAILS } from './storage.js';
import type {
  BuildRequestsTable, BuildsTable, ChangesTable, KeelDatabase, LogsTable, StepsTable, TestOutcomesTable,
} from './schema.js';

const parseJson = <T>(text: string, fallback: T): T => {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
};

function toRequest(row: Selectable<BuildRequestsTable>): BuildRequestRecord {
  return {
    id: row.id, builder: row.builder, repository: row.repository, branch: row.branch, revision: row.revision,
    reason: row.reason, properties: parseJson(row.properties, {}), submittedAt: Number(row.submitted_at),
    claimedBy: row.claimed_by, claimedAt: row.claimed_at === null ? null : Number(row.claimed_at),
    completedAt: row.completed_at === null ? null : Number(row.completed_at), result: row.result,
    mergedInto: row.merged_into ?? null,
  };
}

function toChange(row: Selectable<ChangesTable>): ChangeRecord {
  const change: ChangeRecord = {
    id: row.id, repository: row.repository, branch: row.branch, revision: row.revision, author: row.author,
    time: Number(row.time), message: row.message, files: parseJson(row.files, []), source: row.source,
    recordedAt: Number(row.recorded_at),
  };
  // Absent when not given, never null or undefined (the change model's optional fields).
  if (row.committer !== null) change.committer = row.committer;
  if (row.link !== null) change.link = row.link;
  if (row.category !== null) change.category = row.category;
  if (row.project !== null) change.project = row.project;
  if (row.properties !== null) change.properties = parseJson(row.properties, {});
  return change;
}

/** The marker row of poller_tips: a repository stored, with or without branches (schema.ts). */
const TIPS_MARKER = '';

function toBuild(row: Selectable<BuildsTable>): BuildRecord {
  return {
    id: row.id, requestId: row.request_id, builder: row.builder, number: row.number, worker: row.worker,
    master: row.master, startedAt: Number(row.started_at), finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    result: row.result, reason: row.reason, properties: parseJson(row.properties, {}),
  };
}

function toStep(row: Selectable<StepsTable>): StepRecord {
  return {
    id: row.id, buildId: row.build_id, number: row.number, name: row.name,
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at), result: row.result, reason: row.reason,
  };
}

function toLog(row: Selectable<LogsTable>): LogRecord {
  return { id: row.id, stepId: row.step_id, name: row.name, numLines: row.num_lines, finished: row.finished !== 0 };
}

function toTestOutcome(row: Selectable<TestOutcomesTable>): TestOutcomeRow {
  return {
    id: row.id, buildId: row.build_id, builder: row.builder, branch: row.branch, revision: row.revision, worker: row.worker,
    step: row.step, testId: row.test_id, file: row.file, name: row.name, outcome: row.outcome as TestOutcome,
    attempt: row.attempt, durationMs: row.duration_ms === null ? null : Number(row.duration_ms), message: row.message,
    details: row.details, fingerprint: row.fingerprint, startedAt: Number(row.started_at),
  };
}

/**
 * Rows per INSERT: 17 columns each stays far below SQLite's and PostgreSQL's bound-parameter
 * limits, and few distinct statement texts (one per remainder size) stay in SQLite's cache.
 */
const INSERT_BATCH = 100;

const byBuildTime = (a: InsightOutcomeRow, b: InsightOutcomeRow): number => a.startedAt - b.startedAt || a.buildId - b.buildId;

/** The stored spelling to the one shared string, so a million runs do not hold a million copies. */
const OUTCOMES = new Map<string, TestOutcome>(TEST_OUTCOMES.map((o) => [o, o]));

const FAILED_OUTCOMES: readonly TestOutcome[] = ['fail', 'error', 'flaky'];

function sameTips(a: Record<string, string> | null, b: Record<string, string> | null): boolean {
  if (a === null || b === null) return a === b;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The decimal number in text[from, to), without making a substring: -1 if it holds anything else. */
function parseDecimal(text: string, from: number, to: number): number {
  if (to <= from) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/** How many chunks one query of the raw download fetches: bounds memory to a few MB. */
const RAW_PAGE_CHUNKS = 16;

/**
 * Links changes to a request or a build, each once, in batches of INSERT_BATCH rows: few
 * statement texts for SQLite's cache, few round trips for PostgreSQL.
 */
async function linkChanges(
  db: Kysely<KeelDatabase>, table: 'request_changes' | 'build_changes', ownerId: number, changeIds: readonly number[],
): Promise<void> {
  const ids = [...new Set(changeIds)];
  for (let i = 0; i < ids.length; i += INSERT_BATCH) {
    const batch = ids.slice(i, i + INSERT_BATCH);
    if (table === 'request_changes') {
      await db.insertInto('request_changes').values(batch.map((change_id) => ({ request_id: ownerId, change_id })))
        .onConflict((oc) => oc.columns(['request_id', 'change_id']).doNothing()).execute();
    } else {
      await db.insertInto('build_changes').values(batch.map((change_id) => ({ build_id: ownerId, change_id })))
        .onConflict((oc) => oc.columns(['build_id', 'change_id']).doNothing()).execute();
    }
  }
}

export class KyselyStorage implements Storage {
  constructor(readonly db: Kysely<KeelDatabase>, readonly backend: Backend, private readonly onClose?: () => Promise<void>) {}

  async upsertWorker(name: string, info: Record<string, unknown>, connected: boolean, now: number): Promise<void> {
    await this.db.insertInto('workers')
      .values({ name, info: JSON.stringify(info), connected: connected ? 1 : 0, last_seen: now })
      .onConflict((oc) => oc.column('name').doUpdateSet({ info: JSON.stringify(info), connected: connected ? 1 : 0, last_seen: now }))
      .execute();
  }

  async setWorkerConnected(name: string, connected: boolean, now: number): Promise<void> {
    await this.db.updateTable('workers').set({ connected: connected ? 1 : 0, last_seen: now }).where('name', '=', name).execute();
  }

  async disconnectAllWorkers(): Promise<void> {
    await this.db.updateTable('workers').set({ connected: 0 }).execute();
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    const rows = await this.db.selectFrom('workers').selectAll().orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, info: parseJson(r.info, {}), connected: r.connected !== 0, lastSeen: r.last_seen === null ? null : Number(r.last_seen) }));
  }

  async syncBuilders(builders: BuilderRecord[]): Promise<void> {
    for (const b of builders) {
      const values = { name: b.name, description: b.description, tags: JSON.stringify(b.tags) };
      await this.db.insertInto('builders').values(values)
        .onConflict((oc) => oc.column('name').doUpdateSet({ description: values.description, tags: values.tags }))
        .execute();
    }
  }

  async listBuilders(): Promise<BuilderRecord[]> {
    const rows = await this.db.selectFrom('builders').selectAll().orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, description: r.description, tags: parseJson(r.tags, []) }));
  }

  async getBuilder(name: string): Promise<BuilderRecord | undefined> {
    const r = await this.db.selectFrom('builders').selectAll().where('name', '=', name).executeTakeFirst();
    return r && { name: r.name, description: r.description, tags: parseJson(r.tags, []) };
  }

  async addBuildRequest(req: NewBuildRequest): Promise<number> {
    const insert = (db: Kysely<KeelDatabase>) => db.insertInto('build_requests').values({
      builder: req.builder, repository: req.repository ?? null, branch: req.branch ?? null, revision: req.revision ?? null,
      reason: req.reason ?? null, properties: JSON.stringify(req.properties ?? {}), submitted_at: req.submittedAt,
    }).returning('id').executeTakeFirstOrThrow();
    if (req.changeIds === undefined || req.changeIds.length === 0) return (await insert(this.db)).id;
    const changeIds = req.changeIds;
    return this.db.transaction().execute(async (tx) => {
      const { id } = await insert(tx);
      await linkChanges(tx, 'request_changes', id, changeIds);
      return id;
    });
  }

  async getBuildRequest(id: number): Promise<BuildRequestRecord | undefined> {
    const row = await this.db.selectFrom('build_requests').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRequest(row);
  }

  async listQueuedRequests(builder?: string): Promise<BuildRequestRecord[]> {
    let q = this.db.selectFrom('build_requests').selectAll().where('completed_at', 'is', null).where('claimed_by', 'is', null);
    if (builder !== undefined) q = q.where('builder', '=', builder);
    return (await q.orderBy('id').execute()).map(toRequest);
  }

  async claimBuildRequest(builders: readonly string[], master: string, now: number): Promise<BuildRequestRecord | undefined> {
    if (builders.length === 0) return undefined;
    // Select-then-conditional-update: the `claimed_by is null` guard makes the update the atomic
    // step, so two masters picking the same row see one win and one update nothing (then retry).
    for (let attempt = 0; attempt < 20; attempt++) {
      const candidate = await this.db.selectFrom('build_requests').select('id')
        .where('completed_at', 'is', null).where('claimed_by', 'is', null).where('builder', 'in', builders)
        .orderBy('id').limit(1).executeTakeFirst();
      if (!candidate) return undefined;
      const res = await this.db.updateTable('build_requests').set({ claimed_by: master, claimed_at: now })
        .where('id', '=', candidate.id).where('claimed_by', 'is', null).where('completed_at', 'is', null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) return this.getBuildRequest(candidate.id);
    }
    return undefined;
  }

  async unclaimBuildRequest(id: number): Promise<void> {
    await this.db.updateTable('build_requests').set({ claimed_by: null, claimed_at: null }).where('id', '=', id).execute();
  }

  async completeBuildRequest(id: number, result: string, now: number): Promise<void> {
    await this.db.updateTable('build_requests').set({ completed_at: now, result }).where('id', '=', id).execute();
  }

  async releaseMaster(master: string, result: string, reason: string, now: number): Promise<number[]> {
    return this.db.transaction().execute(async (tx) => {
      const running = await tx.selectFrom('builds').select('id').where('master', '=', master).where('finished_at', 'is', null).execute();
      const ids = running.map((r) => r.id);
      if (ids.length > 0) {
        await tx.updateTable('builds').set({ finished_at: now, result, reason }).where('id', 'in', ids).execute();
        await tx.updateTable('steps').set({ finished_at: now, result, reason }).where('build_id', 'in', ids).where('finished_at', 'is', null).where('started_at', 'is not', null).execute();
      }
      await tx.updateTable('build_requests').set({ claimed_by: null, claimed_at: null })
        .where('claimed_by', '=', master).where('completed_at', 'is', null).execute();
      return ids;
    });
  }

  async createBuild(build: NewBuild): Promise<BuildRecord> {
    // The unique (builder, number) constraint settles races between masters: the loser retries.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction().execute(async (tx) => {
          const max = await tx.selectFrom('builds').select((eb) => eb.fn.max('number').as('n')).where('builder', '=', build.builder).executeTakeFirst();
          const number = Number(max?.n ?? 0) + 1;
          const row = await tx.insertInto('builds').values({
            request_id: build.requestId, builder: build.builder, number, worker: build.worker, master: build.master,
            started_at: build.startedAt, properties: JSON.stringify(build.properties ?? {}),
          }).returningAll().executeTakeFirstOrThrow();
          return toBuild(row);
        });
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
  }

  async finishBuild(id: number, result: string, finishedAt: number, reason?: string | null): Promise<void> {
    await this.db.updateTable('builds').set({ result, finished_at: finishedAt, reason: reason ?? null }).where('id', '=', id).execute();
  }

  async setBuildProperties(id: number, properties: Record<string, unknown>): Promise<void> {
    await this.db.updateTable('builds').set({ properties: JSON.stringify(properties) }).where('id', '=', id).execute();
  }

  async getBuild(id: number): Promise<BuildRecord | undefined> {
    const row = await this.db.selectFrom('builds').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toBuild(row);
  }

  async listBuilds(query: BuildQuery): Promise<{ builds: BuildRecord[]; total: number }> {
    let q = this.db.selectFrom('builds');
    if (query.builder !== undefined) q = q.where('builder', '=', query.builder);
    if (query.result !== undefined) q = q.where('result', '=', query.result);
    const total = await q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const rows = await q.selectAll().orderBy('id', 'desc').limit(query.limit ?? 50).offset(query.offset ?? 0).execute();
    return { builds: rows.map(toBuild), total: Number(total.n) };
  }

  async listBuildIdsForRequest(requestId: number): Promise<number[]> {
    // A merged request is built by the one it was merged into (maybe merged in turn); it may
    // also have builds of its own from before (a build retried, its request queued again).
    const requests = [requestId];
    while (requests.length < 32) {
      const row = await this.db.selectFrom('build_requests').select('merged_into').where('id', '=', requests.at(-1)!).executeTakeFirst();
      const into = row?.merged_into ?? null;
      if (into === null || requests.includes(into)) break;
      requests.push(into);
    }
    let q = this.db.selectFrom('builds').select('id');
    q = requests.length === 1 ? q.where('request_id', '=', requestId) : q.where('request_id', 'in', requests);
    return (await q.orderBy('id').execute()).map((r) => r.id);
  }

  async addStep(buildId: number, number: number, name: string): Promise<StepRecord> {
    const row = await this.db.insertInto('steps').values({ build_id: buildId, number, name }).returningAll().executeTakeFirstOrThrow();
    return toStep(row);
  }

  async startStep(id: number, startedAt: number): Promise<void> {
    await this.db.updateTable('steps').set({ started_at: startedAt }).where('id', '=', id).execute();
  }

  async finishStep(id: number, result: string, finishedAt: number, reason?: string | null): Promise<void> {
    await this.db.updateTable('steps').set({ result, finished_at: finishedAt, reason: reason ?? null }).where('id', '=', id).execute();
  }

  async listSteps(buildId: number): Promise<StepRecord[]> {
    return (await this.db.selectFrom('steps').selectAll().where('build_id', '=', buildId).orderBy('number').execute()).map(toStep);
  }

  async createLog(stepId: number, name: string): Promise<LogRecord> {
    return toLog(await this.db.insertInto('logs').values({ step_id: stepId, name }).returningAll().executeTakeFirstOrThrow());
  }

  async listLogs(stepIds: readonly number[]): Promise<LogRecord[]> {
    if (stepIds.length === 0) return [];
    return (await this.db.selectFrom('logs').selectAll().where('step_id', 'in', stepIds).orderBy('id').execute()).map(toLog);
  }

  async getLog(stepId: number, name: string): Promise<LogRecord | undefined> {
    const row = await this.db.selectFrom('logs').selectAll().where('step_id', '=', stepId).where('name', '=', name).executeTakeFirst();
    return row && toLog(row);
  }

  async appendLogChunks(logId: number, chunks: readonly EncodedLogChunk[]): Promise<void> {
    const last = chunks[chunks.length - 1];
    if (!last) return;
    await this.db.transaction().execute(async (tx) => {
      for (let i = 0; i < chunks.length; i += INSERT_BATCH) {
        await tx.insertInto('log_chunks').values(chunks.slice(i, i + INSERT_BATCH).map((chunk) => ({
          log_id: logId, first_line: chunk.firstLine, last_line: chunk.lastLine,
          content: Buffer.from(chunk.content.buffer, chunk.content.byteOffset, chunk.content.byteLength),
          streams: chunk.streams, raw_bytes: chunk.rawBytes,
        }))).execute();
      }
      await tx.updateTable('logs').set({ num_lines: last.lastLine + 1 }).where('id', '=', logId).execute();
    });
  }

  async finishLog(logId: number): Promise<void> {
    await this.db.updateTable('logs').set({ finished: 1 }).where('id', '=', logId).execute();
  }

  async readLogLines(logId: number, first: number, count: number): Promise<LogLine[]> {
    if (count <= 0) return [];
    const last = first + count - 1;
    // The chunk holding `first` is the last one starting at or before it; the primary key
    // (log_id, first_line) finds it without touching any other chunk's content.
    const start = await this.db.selectFrom('log_chunks').select('first_line')
      .where('log_id', '=', logId).where('first_line', '<=', first)
      .orderBy('first_line', 'desc').limit(1).executeTakeFirst();
    const rows = await this.db.selectFrom('log_chunks').select(['first_line', 'content', 'streams'])
      .where('log_id', '=', logId).where('first_line', '>=', start?.first_line ?? 0).where('first_line', '<=', last)
      .orderBy('first_line').execute();
    const out: LogLine[] = [];
    for (const row of rows) {
      for (const line of decodeLogChunk(row.first_line, row.content, row.streams)) {
        if (line.n >= first && line.n <= last) out.push(line);
      }
    }
    return out;
  }

  async *streamLogText(logId: number, take?: (size: number) => Buffer): AsyncIterable<Buffer> {
    let next = 0;
    for (;;) {
      const rows = await this.db.selectFrom('log_chunks').select(['first_line', 'last_line', 'content'])
        .where('log_id', '=', logId).where('first_line', '>=', next)
        .orderBy('first_line').limit(RAW_PAGE_CHUNKS).execute();
      if (rows.length === 0) return;
      for (const row of rows) {
        yield chunkText(row.content, take);
        next = row.last_line + 1;
      }
    }
  }

  async addTestOutcomes(outcomes: readonly NewTestOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const rows = outcomes.map((o) => ({
      build_id: o.buildId, builder: o.builder, branch: o.branch, revision: o.revision, worker: o.worker, step: o.step,
      test_id: o.testId, file: o.file, name: o.name, outcome: o.outcome, attempt: o.attempt,
      duration_ms: o.durationMs === null ? null : Math.round(o.durationMs), message: o.message,
      details: o.details !== null && o.details.length > MAX_STORED_DETAILS ? `${o.details.slice(0, MAX_STORED_DETAILS)}\n… (cut)` : o.details,
      fingerprint: o.fingerprint, started_at: o.startedAt,
    }));
    const builds = new Map<number, NewTestOutcome>();
    for (const o of outcomes) if (!builds.has(o.buildId)) builds.set(o.buildId, o);
    await this.db.transaction().execute(async (tx) => {
      for (const o of builds.values()) {
        await tx.insertInto('test_builds').values({
          build_id: o.buildId, builder: o.builder, branch: o.branch, revision: o.revision, worker: o.worker, started_at: o.startedAt,
        }).onConflict((oc) => oc.column('build_id').doNothing()).execute();
      }
      for (let i = 0; i < rows.length; i += INSERT_BATCH) {
        await tx.insertInto('test_outcomes').values(rows.slice(i, i + INSERT_BATCH)).execute();
      }
    });
  }

  async listTestOutcomes(buildId: number, outcomes?: readonly TestOutcome[]): Promise<TestOutcomeRow[]> {
    let q = this.db.selectFrom('test_outcomes').selectAll().where('build_id', '=', buildId);
    if (outcomes !== undefined) {
      if (outcomes.length === 0) return [];
      q = q.where('outcome', 'in', outcomes);
    }
    return (await q.orderBy('id').execute()).map(toTestOutcome);
  }

  async testHistory(testId: string, limit: number): Promise<TestOutcomeRow[]> {
    const rows = await this.db.selectFrom('test_outcomes').selectAll().where('test_id', '=', testId)
      .orderBy('started_at', 'desc').orderBy('build_id', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toTestOutcome);
  }

  async listInsightOutcomes(query: InsightQuery): Promise<InsightOutcomeRow[]> {
    if (query.failedIn !== undefined && query.failedIn.length === 0) return [];
    if (this.backend === 'sqlite') return this.listInsightOutcomesPacked(query);
    const since = query.since ?? 0;
    // The subquery is answered by the partial index of failures alone; the outer one walks the
    // (test_id, started_at, build_id) index, so the rows come in order without a sort.
    let candidates = query.failedIn !== undefined
      ? this.db.selectFrom('test_outcomes').select('test_id').where('build_id', 'in', query.failedIn).where('outcome', 'in', ['fail', 'error'])
      : this.db.selectFrom('test_outcomes').select('test_id').where('outcome', 'in', FAILED_OUTCOMES).where('started_at', '>=', since);
    if (query.branch !== undefined) candidates = candidates.where('branch', '=', query.branch);
    let q = this.db.selectFrom('test_outcomes')
      .select(['test_id', 'build_id', 'builder', 'branch', 'revision', 'worker', 'outcome', 'attempt', 'started_at', 'fingerprint'])
      .where('test_id', 'in', candidates).where('started_at', '>=', since);
    if (query.branch !== undefined) q = q.where('branch', '=', query.branch);
    const rows = await q.orderBy('test_id').orderBy('started_at').orderBy('build_id').execute();
    const out: InsightOutcomeRow[] = new Array<InsightOutcomeRow>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out[i] = {
        testId: r.test_id, buildId: r.build_id, builder: r.builder, branch: r.branch, revision: r.revision, worker: r.worker,
        outcome: r.outcome as TestOutcome, attempt: r.attempt, startedAt: Number(r.started_at), fingerprint: r.fingerprint ?? undefined,
      };
    }
    return out;
  }

  /**
   * The SQLite version of listInsightOutcomes, for the 200 ms goal: handing 300,000 rows one by
   * one to JavaScript costs most of a second, so each test's runs come as one string, made by
   * SQLite from the covering index (test_outcomes_test_runs) alone, and each build's fields are
   * read once from test_builds. Unit and record separators cannot occur in ids or fingerprints.
   */
  private async listInsightOutcomesPacked(query: InsightQuery): Promise<InsightOutcomeRow[]> {
    const since = query.since ?? 0;
    const branch = query.branch === undefined ? sql`` : sql` AND build_id IN (SELECT build_id FROM test_builds WHERE branch = ${query.branch})`;
    // INDEXED BY: left to itself, SQLite scans the covering index, a million entries, rather
    // than the small partial index of failures (70 ms against 1 ms over a million outcomes).
    const candidates = query.failedIn !== undefined
      ? sql`SELECT test_id FROM test_outcomes INDEXED BY test_outcomes_build
          WHERE build_id IN (${sql.join(query.failedIn)}) AND outcome IN ('fail', 'error')${branch}`
      : sql`SELECT test_id FROM test_outcomes INDEXED BY test_outcomes_failures
          WHERE outcome IN ('fail', 'error', 'flaky') AND started_at >= ${since}${branch}`;
    const packed = await sql<{ test_id: string; runs: string }>`SELECT test_id,
        group_concat(build_id || char(31) || outcome || char(31) || attempt || char(31) || ifnull(fingerprint, ''), char(30)) AS runs
      FROM test_outcomes WHERE test_id IN (${candidates}) AND started_at >= ${since}${branch}
      GROUP BY test_id ORDER BY test_id`.execute(this.db);
    let builds = this.db.selectFrom('test_builds').selectAll().where('started_at', '>=', since);
    if (query.branch !== undefined) builds = builds.where('branch', '=', query.branch);
    // Build ids are dense integers: an array indexed by id is read faster than a Map.
    const byId: (Omit<InsightOutcomeRow, 'testId' | 'outcome' | 'attempt' | 'fingerprint'> | undefined)[] = [];
    for (const b of await builds.execute()) {
      byId[b.build_id] = { buildId: b.build_id, builder: b.builder, branch: b.branch, revision: b.revision, worker: b.worker, startedAt: Number(b.started_at) };
    }
    const out: InsightOutcomeRow[] = [];
    for (const { test_id: testId, runs } of packed.rows) {
      const first = out.length;
      // Fields by indexOf rather than split: 300,000 runs, two arrays each, were a third of the read.
      for (let at = 0; at < runs.length;) {
        let end = runs.indexOf('\x1e', at);
        if (end === -1) end = runs.length;
        const f1 = runs.indexOf('\x1f', at);
        const f2 = runs.indexOf('\x1f', f1 + 1);
        const f3 = runs.indexOf('\x1f', f2 + 1);
        const build = byId[parseDecimal(runs, at, f1)];
        const outcome = OUTCOMES.get(runs.slice(f1 + 1, f2));
        at = end + 1;
        if (build === undefined || outcome === undefined || f3 === -1 || f3 > end) continue;
        // A literal, not a spread: the spread makes slow objects, which cost 3 µs each here and
        // slowed the ranking that reads them threefold.
        out.push({
          testId, buildId: build.buildId, builder: build.builder, branch: build.branch, revision: build.revision, worker: build.worker,
          outcome, attempt: parseDecimal(runs, f2 + 1, f3), startedAt: build.startedAt, fingerprint: f3 + 1 === end ? undefined : runs.slice(f3 + 1, end),
        });
      }
      // group_concat follows the index's order, which is the one promised; a plan that did not
      // would still give the right order here.
      let sorted = true;
      for (let i = first + 1; i < out.length && sorted; i++) sorted = byBuildTime(out[i - 1]!, out[i]!) <= 0;
      if (!sorted) out.splice(first, out.length - first, ...out.slice(first).sort(byBuildTime));
    }
    return out;
  }

  async latestLaneBuilds(query: InsightQuery): Promise<LaneBuild[]> {
    // From test_builds, one row per build: reading the lanes off test_outcomes scanned a million
    // index entries (100 ms). Per lane, the greatest (started_at, build_id).
    let q = this.db.selectFrom('test_builds').selectAll().where('started_at', '>=', query.since ?? 0);
    if (query.branch !== undefined) q = q.where('branch', '=', query.branch);
    const latest = new Map<string, LaneBuild>();
    for (const b of await q.execute()) {
      const key = `${b.builder}\0${b.branch}`;
      const seen = latest.get(key);
      const startedAt = Number(b.started_at);
      if (seen === undefined || startedAt > seen.startedAt || (startedAt === seen.startedAt && b.build_id > seen.buildId)) {
        latest.set(key, { builder: b.builder, branch: b.branch, buildId: b.build_id, revision: b.revision, worker: b.worker, startedAt });
      }
    }
    return [...latest.values()].sort((a, b) => (a.builder < b.builder ? -1 : a.builder > b.builder ? 1 : a.branch < b.branch ? -1 : a.branch > b.branch ? 1 : 0));
  }

  async quarantineTest(testId: string, reason: string | null, now: number): Promise<boolean> {
    const res = await this.db.insertInto('quarantined_tests').values({ test_id: testId, reason, created_at: now })
      .onConflict((oc) => oc.column('test_id').doNothing()).executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async unquarantineTest(testId: string): Promise<boolean> {
    const res = await this.db.deleteFrom('quarantined_tests').where('test_id', '=', testId).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async listQuarantinedTests(): Promise<QuarantineRecord[]> {
    const rows = await this.db.selectFrom('quarantined_tests').selectAll().orderBy('test_id').execute();
    return rows.map((r) => ({ testId: r.test_id, reason: r.reason, createdAt: Number(r.created_at) }));
  }

  async recordChanges(changes: readonly NewChange[], now: number, pollerTips?: PollerTipsUpdate): Promise<ChangeRecord[]> {
    if (changes.length === 0 && pollerTips === undefined) return [];
    return this.db.transaction().execute(async (tx) => {
      if (pollerTips?.expected !== undefined) await this.checkPollerTips(tx, pollerTips.repository, pollerTips.expected);
      const out: ChangeRecord[] = [];
      // One row per INSERT: the ids come back in the changes' order with no reliance on the order
      // of a multi-row RETURNING, and SQLite keeps one statement.
      for (const c of changes) {
        const row = await tx.insertInto('changes').values({
          repository: c.repository, branch: c.branch, revision: c.revision, author: c.author, committer: c.committer ?? null,
          time: c.time, message: c.message, files: JSON.stringify(c.files),
          link: c.link ?? null, category: c.category ?? null, source: c.source, project: c.project ?? null,
          properties: c.properties === undefined ? null : JSON.stringify(c.properties), recorded_at: now,
        }).returningAll().executeTakeFirstOrThrow();
        out.push(toChange(row));
      }
      if (pollerTips !== undefined) {
        const { repository } = pollerTips;
        // The marker row stays: it is what a concurrent recordChanges waits on (checkPollerTips).
        await tx.deleteFrom('poller_tips').where('repository', '=', repository).where('branch', '!=', TIPS_MARKER).execute();
        // Upserts, so that two masters recording the same repository at once both succeed (the
        // later commit's tips win) rather than one failing on the primary key.
        for (const [branch, revision] of [[TIPS_MARKER, ''], ...Object.entries(pollerTips.revisions)] as const) {
          await tx.insertInto('poller_tips').values({ repository, branch, revision })
            .onConflict((oc) => oc.columns(['repository', 'branch']).doUpdateSet({ revision })).execute();
        }
      }
      return out;
    });
  }

  /**
   * Two masters polling one repository: the first to record wins, the other finds the tips
   * moved. The marker row is the lock (inserted if missing: a concurrent insert of it waits for
   * the first transaction on PostgreSQL); the tips are read after it is held, so they are current.
   */
  private async checkPollerTips(tx: Kysely<KeelDatabase>, repository: string, expected: Record<string, string> | null): Promise<void> {
    const inserted = await tx.insertInto('poller_tips').values({ repository, branch: TIPS_MARKER, revision: '' })
      .onConflict((oc) => oc.columns(['repository', 'branch']).doNothing()).executeTakeFirst();
    const existed = Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0;
    let lock = tx.selectFrom('poller_tips').select('branch').where('repository', '=', repository).where('branch', '=', TIPS_MARKER);
    if (this.backend === 'postgres') lock = lock.forUpdate();
    await lock.execute();
    const rows = await tx.selectFrom('poller_tips').select(['branch', 'revision']).where('repository', '=', repository).where('branch', '!=', TIPS_MARKER).execute();
    const current = existed ? Object.fromEntries(rows.map((r) => [r.branch, r.revision])) : null;
    if (!sameTips(current, expected)) {
      throw new KeelError('KEEL_ERR_CONFLICT', `another master recorded changes of ${repository} since this poll began; the next poll goes on from there`);
    }
  }

  async getPollerTips(repository: string): Promise<Record<string, string> | undefined> {
    const rows = await this.db.selectFrom('poller_tips').select(['branch', 'revision']).where('repository', '=', repository)
      .orderBy('branch').execute();
    if (rows.length === 0) return undefined;
    const tips: Record<string, string> = {};
    for (const r of rows) if (r.branch !== TIPS_MARKER) tips[r.branch] = r.revision;
    return tips;
  }

  async getChange(id: number): Promise<ChangeRecord | undefined> {
    const row = await this.db.selectFrom('changes').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toChange(row);
  }

  async listChanges(query: ChangeQuery): Promise<{ changes: ChangeRecord[]; total: number }> {
    let q = this.db.selectFrom('changes');
    if (query.repository !== undefined) q = q.where('repository', '=', query.repository);
    if (query.branch !== undefined) q = q.where('branch', '=', query.branch);
    const total = await q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const rows = await q.selectAll().orderBy('id', 'desc').limit(query.limit ?? 50).offset(query.offset ?? 0).execute();
    return { changes: rows.map(toChange), total: Number(total.n) };
  }

  async listChangesBetween(query: { branch: string; repository?: string | null; afterId: number; upToId: number }): Promise<ChangeRecord[]> {
    let q = this.db.selectFrom('changes').selectAll().where('branch', '=', query.branch)
      .where('id', '>', query.afterId).where('id', '<=', query.upToId);
    if (query.repository !== undefined && query.repository !== null) q = q.where('repository', '=', query.repository);
    return (await q.orderBy('id').execute()).map(toChange);
  }

  async listRequestChanges(requestId: number): Promise<ChangeRecord[]> {
    // Merging copies the merged requests' links onto the request, so its own rows are all of them.
    const rows = await this.db.selectFrom('changes').selectAll()
      .where('id', 'in', (eb) => eb.selectFrom('request_changes').select('change_id').where('request_id', '=', requestId))
      .orderBy('id').execute();
    return rows.map(toChange);
  }

  async mergeBuildRequests(intoId: number, absorbIds: readonly number[], revision: string | null, now: number): Promise<number[]> {
    // Ascending, so that two masters merging overlapping sets lock rows in the same order.
    const ids = [...new Set(absorbIds)].filter((id) => id !== intoId).sort((a, b) => a - b);
    if (ids.length === 0) return [];
    return this.db.transaction().execute(async (tx) => {
      const merged: number[] = [];
      for (const id of ids) {
        // The queue's own guard (unclaimed, incomplete): a request claimed meanwhile is not
        // touched, and once completed a merged request is never claimed (the queue scan and
        // claimBuildRequest both require completed_at null).
        const row = await tx.updateTable('build_requests').set({ completed_at: now, result: 'merged', merged_into: intoId })
          .where('id', '=', id).where('claimed_by', 'is', null).where('completed_at', 'is', null)
          .returning('id').executeTakeFirst();
        if (row === undefined) continue;
        merged.push(id);
        await tx.insertInto('request_changes').columns(['request_id', 'change_id'])
          .expression((eb) => eb.selectFrom('request_changes')
            // A bound parameter, not a literal: one statement text for SQLite's cache (open-storage.ts).
            .select([sql<number>`CAST(${intoId} AS integer)`.as('request_id'), 'change_id']).where('request_id', '=', id))
          .onConflict((oc) => oc.columns(['request_id', 'change_id']).doNothing()).execute();
      }
      if (merged.length > 0) await tx.updateTable('build_requests').set({ revision }).where('id', '=', intoId).execute();
      return merged;
    });
  }

  async setBuildChanges(buildId: number, changeIds: readonly number[]): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('build_changes').where('build_id', '=', buildId).execute();
      await linkChanges(tx, 'build_changes', buildId, changeIds);
    });
  }

  async listBuildChanges(buildId: number): Promise<ChangeRecord[]> {
    const rows = await this.db.selectFrom('changes').selectAll()
      .where('id', 'in', (eb) => eb.selectFrom('build_changes').select('change_id').where('build_id', '=', buildId))
      .orderBy('id').execute();
    return rows.map(toChange);
  }

  async lastBlamedChangeId(builder: string, branch: string, beforeBuildId: number): Promise<number | undefined> {
    const row = await this.db.selectFrom('build_changes')
      .innerJoin('builds', 'builds.id', 'build_changes.build_id')
      .innerJoin('build_requests', 'build_requests.id', 'builds.request_id')
      .select((eb) => eb.fn.max('build_changes.change_id').as('n'))
      .where('builds.builder', '=', builder).where('builds.id', '<', beforeBuildId).where('build_requests.branch', '=', branch)
      .executeTakeFirst();
    return row?.n === undefined || row.n === null ? undefined : Number(row.n);
  }

  async listBlamelistsBetween(builder: string, branch: string, afterBuildId: number, upToBuildId: number): Promise<ChangeRecord[]> {
    const rows = await this.db.selectFrom('changes').selectAll()
      .where('id', 'in', (eb) => eb.selectFrom('build_changes')
        .innerJoin('builds', 'builds.id', 'build_changes.build_id')
        .innerJoin('build_requests', 'build_requests.id', 'builds.request_id')
        .select('build_changes.change_id')
        .where('builds.builder', '=', builder).where('build_requests.branch', '=', branch)
        .where('builds.id', '>', afterBuildId).where('builds.id', '<=', upToBuildId))
      .orderBy('id').execute();
    return rows.map(toChange);
  }

  async close(): Promise<void> {
    await this.db.destroy();
    await this.onClose?.();
  }
}
