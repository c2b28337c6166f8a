// Runs the storage conformance suite on SQLite (better-sqlite3, WAL) in a temporary folder.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { openStorage } from '../../src/storage/open-storage.js';
import { storageConformance } from './storage-conformance.js';

storageConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-sqlite-'));
  const storage = await openStorage(`sqlite:${join(dir, 'keel.sqlite')}`);
  return { storage, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

it('sqlite: data survives reopening, in WAL mode, and migrating twice is harmless', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-sqlite-'));
  try {
    const path = join(dir, 'sub', 'keel.sqlite');
    const a = await openStorage(`sqlite:${path}`);
    const id = await a.addBuildRequest({ builder: 'x', submittedAt: 1 });
    await a.close();
    assert.ok(existsSync(path));
    const b = await openStorage(`sqlite:${path}`);
    assert.equal((await b.listQueuedRequests())[0]?.id, id);
    await b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('rejects an unknown database URL with a KeelError', async () => {
  await assert.rejects(openStorage('mysql://x'), { code: 'KEEL_ERR_STORAGE' });
});
