// Opens a Storage from a database URL (`sqlite:PATH`, `sqlite::memory:` or `postgres://…`) and
// migrates it to the newest schema. The CLI is its only production caller.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type { SqliteDatabase } from 'kysely';
import pg from 'pg';
import { KeelError } from '../errors.js';
import { KyselyStorage } from './kysely-storage.js';
import { migrateToLatest } from './migrations.js';
import type { KeelDatabase } from './schema.js';
import type { Storage } from './storage.js';

export interface OpenStorageOptions {
  /** PostgreSQL only: the schema to use (created if missing), e.g. one per test run. */
  schema?: string;
}

const PG_INT8 = 20;
const PG_NUMERIC = 1700;

const SQLITE_SCHEME = 'sqlite:';
const SQLITE_MEMORY = ':memory:';

/** The file a `sqlite:` URL names; undefined for an in-memory database or another kind of URL. */
export function sqliteFile(url: string): string | undefined {
  if (!url.startsWith(SQLITE_SCHEME)) return undefined;
  const path = url.slice(SQLITE_SCHEME.length);
  return path === SQLITE_MEMORY ? undefined : path;
}

export async function openStorage(url: string, options: OpenStorageOptions = {}): Promise<Storage> {
  if (url.startsWith(SQLITE_SCHEME)) return openSqlite(sqliteFile(url) ?? SQLITE_MEMORY);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgres(url, options.schema);
  throw new KeelError('KEEL_ERR_STORAGE', `unknown database URL "${url}": use sqlite:PATH or postgres://…`);
}

/**
 * Every better-sqlite3 Database and Statement this process creates, kept reachable until exit.
 * better-sqlite3 12 wraps them in node::ObjectWrap; on Node >= 24.19 an ObjectWrap that the
 * garbage collector finalises outside a JS context aborts the process ("Assertion failed:
 * (env) != nullptr" in RemoveEnvironmentCleanupHook). Never letting them become garbage avoids
 * that path; the statements are few (one per distinct SQL text) and are reused, which also saves
 * a prepare per query. Node 20 and 22 do not need this and are not harmed by it.
 */
const keptAlive: object[] = [];

function statementCache(sqlite: Database.Database): SqliteDatabase {
  keptAlive.push(sqlite);
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (sql) => {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = sqlite.prepare(sql);
        cache.set(sql, stmt);
        keptAlive.push(stmt);
      }
      return stmt;
    },
  };
}

async function openSqlite(path: string): Promise<Storage> {
  if (path !== SQLITE_MEMORY) mkdirSync(dirname(path), { recursive: true });
  let sqlite: Database.Database;
  try {
    sqlite = new Database(path);
  } catch (err) {
    throw new KeelError('KEEL_ERR_STORAGE', `cannot open SQLite database ${path}: ${(err as Error).message}`, { cause: err });
  }
  // WAL lets the API read while the master writes; NORMAL sync is durable across process crashes,
  // which is the failure a CI master meets (power loss may lose the last moments, not corrupt).
  // exec(), not pragma(): pragma() makes Statement objects that would become garbage (see above).
  sqlite.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  const db = new Kysely<KeelDatabase>({ dialect: new SqliteDialect({ database: statementCache(sqlite) }) });
  await migrateToLatest(db as Kysely<unknown>, 'sqlite');
  return new KyselyStorage(db, 'sqlite');
}

async function openPostgres(url: string, schema: string | undefined): Promise<Storage> {
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) {
    throw new KeelError('KEEL_ERR_STORAGE', `invalid PostgreSQL schema name "${schema}"`);
  }
  // 64-bit integers (timestamps, counts) come back as numbers: epoch milliseconds fit in 2^53.
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
      if (oid === PG_INT8 || oid === PG_NUMERIC) return (v: string) => Number(v);
      return pg.types.getTypeParser(oid, format as 'text');
    }) as typeof pg.types.getTypeParser,
  };
  const pool = new pg.Pool({
    connectionString: url, max: 8, types,
    ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
  });
  let current: string;
  try {
    if (schema !== undefined) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    current = (await pool.query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]?.schema ?? 'public';
  } catch (err) {
    await pool.end();
    throw new KeelError('KEEL_ERR_STORAGE', `cannot connect to PostgreSQL: ${(err as Error).message}`, { cause: err });
  }
  const db = new Kysely<KeelDatabase>({ dialect: new PostgresDialect({ pool }) });
  await migrateToLatest(db as Kysely<unknown>, 'postgres', current);
  return new KyselyStorage(db, 'postgres');
}
