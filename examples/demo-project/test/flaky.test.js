// A flaky test, on purpose: it fails about one run in three, the way a test racing a timer does.
// Keel's re-run (-w) turns its failure into "FAILURE then SUCCESS" instead of a red build.
import assert from 'node:assert/strict';
import { test } from 'node:test';

test('answers before the deadline', async () => {
  const latency = Math.random() * 30;
  await new Promise((resolve) => setTimeout(resolve, latency));
  assert.ok(latency < 20, `took ${latency.toFixed(1)} ms, deadline is 20 ms`);
});
