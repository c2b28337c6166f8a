// Runs the storage conformance suite on PostgreSQL, in a fresh schema per run that is dropped
// afterwards. The server is KEEL_TEST_PG_URL, by default the local one CI provides.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { openStorage } from '../../src/storage/open-storage.js';
import { storageConformance } from './storage-conformance.js';

const url = process.env['KEEL_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

storageConformance('postgres', async () => {
  const schema = `keel_test_${randomBytes(6).toString('hex')}`;
  const storage = await openStorage(url, { schema });
  return {
    storage,
    cleanup: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
});

test('a Keel database beside another in the same PostgreSQL database migrates its own schema', async () => {
  // The neighbour: a schema holding only Kysely's migration tables, as a run killed mid-way
  // leaves them. Kysely would take them for this database's unless told which schema is ours.
  const neighbour = `keel_test_${randomBytes(6).toString('hex')}`;
  const ours = `keel_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${neighbour}`);
    await client.query(`CREATE TABLE ${neighbour}.kysely_migration (name varchar(255) PRIMARY KEY, timestamp varchar(255) NOT NULL)`);
    await client.query(`CREATE TABLE ${neighbour}.kysely_migration_lock (id varchar(255) PRIMARY KEY, is_locked integer NOT NULL DEFAULT 0)`);
    const storage = await openStorage(url, { schema: ours });
    try {
      assert.deepEqual(await storage.listWorkers(), []);
      const tables = await client.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [ours]);
      assert.ok(tables.rows.some((r) => r.table_name === 'kysely_migration_lock'), 'our own migration tables');
      assert.ok(tables.rows.some((r) => r.table_name === 'changes'), 'and every migration applied');
    } finally {
      await storage.close();
    }
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${neighbour} CASCADE`);
    await client.query(`DROP SCHEMA IF EXISTS ${ours} CASCADE`);
    await client.end();
  }
});
