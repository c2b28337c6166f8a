// Nothing lost, doubled or reordered between a command's pipes and the stored log: a real worker
// streams 20 MB of numbered stdout and stderr lines, far more than its window of unacknowledged
// output, and every line comes back once, in order within its stream, tagged with its stream.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, forceAndWait, logText, startCi, tempDir } from './ci-harness.js';
import type { CiSetup, RunningMaster } from './ci-harness.js';

const dir = tempDir('keel-log-integrity-');
const LINES = 300_000;
// Lines of varied length (some longer than a pipe read), every 7th also on stderr, no final newline.
const PRINT = `
const fs = require('fs');
const pad = 'x'.repeat(40);
let out = '';
for (let i = 1; i <= ${LINES}; i++) {
  out += 'o ' + i + ' ' + (i % 1000 === 0 ? pad.repeat(5000) : pad) + '\\n';
  if (i % 7 === 0) { fs.writeSync(1, out); out = ''; fs.writeSync(2, 'e ' + i + '\\n'); }
}
fs.writeSync(1, out + 'unterminated');
`;

describe('log integrity through a real worker', () => {
  let ci: CiSetup;
  let m: RunningMaster;

  before(async () => {
    ci = await startCi({
      workers: [{ name: 'w1', secret: 'pw' }],
      builders: [{ name: 'big', workers: ['w1'], steps: [{ type: 'shell', name: 'print', command: [process.execPath, '-e', PRINT] }] }],
    }, dir, [['w1', 'pw']]);
    m = ci.m;
  });
  after(() => ci.stop());

  it('stores every line once, in order within its stream, with its stream', async () => {
    const build = await forceAndWait(m, 'big');
    assert.equal(build.result, 'success');
    const text = await logText(m, build.id, 'print');
    const out: number[] = [];
    const err: number[] = [];
    for (const line of text.split('\n')) {
      const match = /^([oe]) (\d+)/.exec(line);
      if (match) (match[1] === 'o' ? out : err).push(Number(match[2]));
    }
    assert.equal(out.length, LINES);
    assert.ok(out.every((n, i) => n === i + 1), 'stdout lines in order, none lost or doubled');
    assert.equal(err.length, Math.floor(LINES / 7));
    assert.ok(err.every((n, i) => n === (i + 1) * 7), 'stderr lines in order');
    assert.match(text, /^unterminated$/m, 'the last, unterminated line is kept');
    // The same lines by range, with their stream tags, from the middle of the log.
    const meta = await api<{ total: number; lines: { n: number; stream: string; text: string }[] }>(m.url, `/builds/${build.id}/steps/print/logs/stdio?offset=200000&limit=2000`);
    assert.ok(meta.body.total >= LINES + err.length);
    assert.ok(meta.body.lines.length === 2000);
    for (const line of meta.body.lines) {
      if (line.text.startsWith('o ')) assert.equal(line.stream, 'o');
      else if (line.text.startsWith('e ')) assert.equal(line.stream, 'e');
    }
    // Both pipes are read as they come, so a stderr line lands among the stdout lines printed
    // about when it was, not at either end: within what the pipes hold when the worker is slow
    // to read (a pipe grows to 1 MB, about 21,000 of these stdout lines, once bulk output flows).
    const wide = await api<{ lines: { n: number; stream: string; text: string }[] }>(m.url, `/builds/${build.id}/steps/print/logs/stdio?offset=120000&limit=60000`);
    let lastOut: number | undefined;
    let checked = 0;
    for (const line of wide.body.lines) {
      const n = Number(line.text.split(' ')[1]);
      if (line.stream === 'o' && line.text.startsWith('o ')) lastOut = n;
      else if (line.stream === 'e' && lastOut !== undefined) {
        checked++;
        assert.ok(Math.abs(lastOut - n) < 40_000, `stderr line ${n} follows stdout line ${lastOut}`);
      }
    }
    assert.ok(checked > 0, 'stderr lines are tagged e, and interleaved with stdout');
  });
});
