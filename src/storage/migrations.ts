// Schema migrations, in order. Each migration is written once for both backends; the few
// differences (auto-increment ids, binary columns, big integers) come from `ColumnKinds`.
import { Migrator, sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import { KeelError } from '../errors.js';

export type Backend = 'sqlite' | 'postgres';

interface ColumnKinds {
  id: 'integer' | 'serial';
  time: 'integer' | 'bigint';
  bytes: 'blob' | 'bytea';
}

function kinds(backend: Backend): ColumnKinds {
  return backend === 'sqlite'
    ? { id: 'integer', time: 'integer', bytes: 'blob' }
    : { id: 'serial', time: 'bigint', bytes: 'bytea' };
}

function initial(backend: Backend): Migration {
  const k = kinds(backend);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.createTable('workers')
        .addColumn('id', k.id, (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('info', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('connected', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_seen', k.time)
        .execute();
      await db.schema.createTable('builders')
        .addColumn('id', k.id, (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text')
        .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema.createTable('build_requests')
        .addColumn('id', k.id, (c) => c.primaryKey())
        .addColumn('builder', 'text', (c) => c.notNull())
        .addColumn('repository', 'text')
        .addColumn('branch', 'text')
        .addColumn('revision', 'text')
        .addColumn('reason', 'text')
        .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('submitted_at', k.time, (c) => c.notNull())
        .addColumn('claimed_by', 'text')
        .addColumn('claimed_at', k.time)
        .addColumn('completed_at', k.time)
        .addColumn('result', 'text')
        .execute();
      // The queue scan: unclaimed, incomplete requests of some builders, oldest first.
      await db.schema.createIndex('build_requests_queue').on('build_requests')
        .columns(['completed_at', 'claimed_by', 'builder', 'id']).execute();
      await db.schema.createTable('builds')
        .addColumn('id', k.id, (c) => c.primaryKey())
        .addColumn('request_id', 'integer', (c) => c.notNull().references('build_requests.id'))
        .addColumn('builder', 'text', (c) => c.notNull())
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('worker', 'text', (c) => c.notNull())
        .addColumn('master', 'text', (c) => c.notNull())
        .addColumn('started_at', k.time, (c) => c.notNull())
        .addColumn('finished_at', k.time)
        .addColumn('result', 'text')
        .addColumn('reason', 'text')
        .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
        .addUniqueConstraint('builds_builder_number', ['builder', 'number'])
        .execute();
      await db.schema.createIndex('builds_request').on('builds').column('request_id').execute();
      await db.schema.createTable('steps')
        .addColumn('id', k.id, (c) => c.primaryKey())
        .addColumn('build_id', 'integer', (c) => c.notNull().references('builds.id'))
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('started_at', k.time)
        .addColumn('finished_at', k.time)
        .addColumn('result', 'text')
        .addColumn('reason', 'text')
        .addUniqueConstraint('steps_build_number', ['build_id', 'number'])
        .execute();
      await db.schema.createTable('logs')
        .addColumn('id', k.id, (c) => c.primaryKey())
        .addColumn('step_id', 'integer', (c) => c.notNull().references('steps.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('num_lines', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('finished', 'integer', (c) => c.notNull().defaultTo(0))
        .addUniqueConstraint('logs_step_name', ['step_id', 'name'])
        .execute();
      await db.schema.createTable('log_chunks')
        .addColumn('log_id', 'integer', (c) => c.notNull().references('logs.id'))
        .addColumn('first_line', 'integer', (c) => c.notNull())
        .addColumn('last_line', 'integer', (c) => c.notNull())
        .addColumn('content', k.bytes, (c) => c.notNull())
        .addColumn('streams', 'text', (c) => c.notNull())
        .addColumn('raw_bytes', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('log_chunks_pk', ['log_id', 'first_line'])
        .execute();
    },
  };
}

/**
 * Test outcomes and quarantine (issue 6). The indexes are the ones docs/insight.md asks for:
 * one test's history; the partial index of failures, small because most outcomes are passes,
 * that finds the tests worth reading for the flaky and regression pass; lanes; fingerprints.
 */
function testOutcomes(backend: Backend): Migration {
  const k = kinds(backend);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.createTable('test_outcomes')
        .addColumn('id', k.id, (c) => c.primaryKey())
        .addColumn('build_id', 'integer', (c) => c.notNull().references('builds.id'))
        .addColumn('builder', 'text', (c) => c.notNull())
        .addColumn('branch', 'text', (c) => c.notNull())
        .addColumn('revision', 'text', (c) => c.notNull())
        .addColumn('worker', 'text', (c) => c.notNull())
        .addColumn('step', 'text', (c) => c.notNull())
        .addColumn('test_id', 'text', (c) => c.notNull())
        .addColumn('file', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('duration_ms', 'integer')
        .addColumn('message', 'text')
        .addColumn('details', 'text')
        .addColumn('fingerprint', 'text')
        .addColumn('started_at', k.time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('test_outcomes_build').on('test_outcomes').columns(['build_id', 'outcome']).execute();
      await db.schema.createIndex('test_outcomes_test').on('test_outcomes').columns(['test_id', 'started_at', 'build_id']).execute();
      await db.schema.createIndex('test_outcomes_failures').on('test_outcomes').columns(['test_id', 'started_at'])
        .where(sql.ref('outcome'), 'in', [sql.lit('fail'), sql.lit('error'), sql.lit('flaky')]).execute();
      await db.schema.createIndex('test_outcomes_lane').on('test_outcomes').columns(['builder', 'branch', 'started_at']).execute();
      await db.schema.createIndex('test_outcomes_fingerprint').on('test_outcomes').column('fingerprint')
        .where('fingerprint', 'is not', null).execute();
      await db.schema.createTable('quarantined_tests')
        .addColumn('test_id', 'text', (c) => c.primaryKey())
        .addColumn('reason', 'text')
        .addColumn('created_at', k.time, (c) => c.notNull())
        .execute();
    },
  };
}

/**
 * What the flaky pass needs to read a million outcomes within its 200 ms: an index that covers
 * the per-test rows it reads (so the table is never touched), and each build's lane, revision
 * and worker once in `test_builds` rather than on every row it reads.
 */
function insightIndexes(backend: Backend): Migration {
  const k = kinds(backend);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('test_outcomes_test_runs').on('test_outcomes')
        .columns(['test_id', 'started_at', 'build_id', 'outcome', 'attempt', 'fingerprint']).execute();
      await db.schema.dropIndex('test_outcomes_test').execute();
      await db.schema.createTable('test_builds')
        .addColumn('build_id', 'integer', (c) => c.primaryKey().references('builds.id'))
        .addColumn('builder', 'text', (c) => c.notNull())
        .addColumn('branch', 'text', (c) => c.notNull())
        .addColumn('revision', 'text', (c) => c.notNull())
        .addColumn('worker', 'text', (c) => c.notNull())
        .addColumn('started_at', k.time, (c) => c.notNull())
        .execute();
      await sql`INSERT INTO test_builds (build_id, builder, branch, revision, worker, started_at)
        SELECT build_id, MIN(builder), MIN(branch), MIN(revision), MIN(worker), MIN(started_at) FROM test_outcomes GROUP BY build_id`.execute(db);
    },
  };
}

/**
 * Change sources (issue 5): the changes, each git poller's branch tips, the changes of each build
 * request and each build's blamelist, and which queued request another was merged into.
 */
function changes(backend: Backend): Migration {
  const k = kinds(backend);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.createTable('changes')
        .addColumn('id', k.id, (c) => c.primaryKey())
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('branch', 'text', (c) => c.notNull())
        .addColumn('revision', 'text', (c) => c.notNull())
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('committer', 'text')
        .addColumn('time', k.time, (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('files', 'text', (c) => c.notNull())
        .addColumn('link', 'text')
        .addColumn('category', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('project', 'text')
        .addColumn('properties', 'text')
        .addColumn('recorded_at', k.time, (c) => c.notNull())
        .execute();
      // Newest first overall is the primary key; these serve the filtered lists and the ranges
      // of one branch (listChanges, listChangesBetween).
      await db.schema.createIndex('changes_repository').on('changes').columns(['repository', 'id']).execute();
      await db.schema.createIndex('changes_branch').on('changes').columns(['branch', 'id']).execute();
      await db.schema.createTable('poller_tips')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('branch', 'text', (c) => c.notNull())
        .addColumn('revision', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('poller_tips_pk', ['repository', 'branch'])
        .execute();
      await db.schema.createTable('request_changes')
        .addColumn('request_id', 'integer', (c) => c.notNull().references('build_requests.id'))
        .addColumn('change_id', 'integer', (c) => c.notNull().references('changes.id'))
        .addPrimaryKeyConstraint('request_changes_pk', ['request_id', 'change_id'])
        .execute();
      await db.schema.createTable('build_changes')
        .addColumn('build_id', 'integer', (c) => c.notNull().references('builds.id'))
        .addColumn('change_id', 'integer', (c) => c.notNull().references('changes.id'))
        .addPrimaryKeyConstraint('build_changes_pk', ['build_id', 'change_id'])
        .execute();
      await db.schema.alterTable('build_requests').addColumn('merged_into', 'integer', (c) => c.references('build_requests.id')).execute();
    },
  };
}

/**
 * Brings the database to the newest schema; safe to call on every start and from several masters.
 * `pgSchema` is the PostgreSQL schema Keel's tables live in: Kysely looks for its migration
 * tables in every schema unless told which, so another Keel database in a neighbouring schema
 * would otherwise pass for this one's.
 */
export async function migrateToLatest(db: Kysely<unknown>, backend: Backend, pgSchema?: string): Promise<void> {
  const migrations: Record<string, Migration> = { '0001_initial': initial(backend), '0002_test_outcomes': testOutcomes(backend),
    '0003_insight_indexes': insightIndexes(backend), '0004_changes': changes(backend),
  };
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, ...(pgSchema !== undefined ? { migrationTableSchema: pgSchema } : {}) });
  const { error } = await migrator.migrateToLatest();
  if (error) throw new KeelError('KEEL_ERR_STORAGE', `database migration failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
