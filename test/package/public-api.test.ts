// The package's public entry points, imported by name as a user's project imports them.
import assert from 'node:assert/strict';
import { test } from 'node:test';

test("'keel' parses a log into the shared model", async () => {
  const keel = await import('keel');
  const log = ['TAP version 13', 'ok 1 - adds', 'not ok 2 - subtracts', '  ---', "  message: 'expected 1'", '  ...', '1..2', ''].join('\n');
  const result = keel.parseText(log);
  assert.equal(result.format, 'tap');
  const outcomes = Object.fromEntries(result.tests.map((t) => [t.name, t.outcome]));
  assert.deepEqual(outcomes, { adds: 'pass', subtracts: 'fail' });
  assert.equal(keel.countOutcomes(result.tests).fail, 1);
  assert.equal(typeof keel.defineConfig, 'function');
});

test("'keel/test' offers the resource helpers", async () => {
  const helpers = await import('keel/test');
  assert.equal(typeof helpers.requires, 'function');
  assert.deepEqual(Object.keys(helpers.requires()), []);
});
