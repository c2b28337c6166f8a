// command.report frames and the reports field of command.start, validated at the socket edge.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMasterFrame, decodeWorkerFrame, REPORT_MAX_BYTES } from '../../src/protocol/messages.js';

const frame = (o: Record<string, unknown>) => JSON.stringify({ type: 'command.report', seq: 3, commandId: 'c1', path: 'r.xml', ...o });

test('a report carries base64 data or says why it was skipped, never both nor neither', () => {
  const ok = decodeWorkerFrame(frame({ data: Buffer.from('<testsuite/>').toString('base64') }));
  assert.ok(ok.ok && ok.message.type === 'command.report' && ok.message.data !== undefined);
  assert.ok(decodeWorkerFrame(frame({ skipped: 'too large' })).ok);
  for (const bad of [{}, { data: 'AAAA', skipped: 'x' }, { data: 'not base64!' }, { data: 'A'.repeat(Math.ceil(REPORT_MAX_BYTES / 3) * 4 + 4) }, { data: 'AAAA', extra: 1 }]) {
    const r = decodeWorkerFrame(frame(bad));
    assert.equal(r.ok, false, JSON.stringify(bad).slice(0, 80));
    assert.equal(r.ok ? undefined : r.seq, 3);
  }
});

test('command.start may name report globs', () => {
  const start = { type: 'command.start', seq: 1, commandId: 'c1', argv: ['true'], workdir: 'b/build', timeout: 10 };
  const r = decodeMasterFrame(JSON.stringify({ ...start, reports: ['reports/*.xml'] }));
  assert.ok(r.ok && r.message.type === 'command.start' && r.message.reports?.[0] === 'reports/*.xml');
  assert.equal(decodeMasterFrame(JSON.stringify({ ...start, reports: [''] })).ok, false);
});
