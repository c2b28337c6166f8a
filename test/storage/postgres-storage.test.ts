// Runs the storage conformance suite on PostgreSQL, in a fresh schema per run that is dropped
// afterwards. The server is KEEL_TEST_PG_URL, by default the local one CI provides.
import { randomBytes } from 'node:crypto';
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
