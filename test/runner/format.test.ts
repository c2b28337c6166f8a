import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, formatElapsed, wrapNames } from '../../src/runner/format.js';
import { xmlEscape } from '../../src/runner/junit-report.js';

test('durations read as regrtest writes them', () => {
  assert.equal(formatDuration(0.28), '280 ms');
  assert.equal(formatDuration(3.21), '3.2 sec');
  assert.equal(formatDuration(92), '1 min 32 sec');
  assert.equal(formatDuration(3720), '1 hour 2 min');
  assert.equal(formatElapsed(3725.9), '1:02:05');
});

test('name lists wrap under 76 columns with a four-space indent', () => {
  const names = Array.from({ length: 30 }, (_, i) => `test_module_${i}`);
  const text = wrapNames(names);
  for (const line of text.split('\n')) {
    assert.ok(line.startsWith('    '));
    assert.ok(line.length <= 76, line);
  }
  assert.equal(text.replace(/\s+/g, ' ').trim(), names.join(' '));
});

test('XML escaping leaves no markup and no character XML forbids', () => {
  assert.equal(xmlEscape('<a href="x">&\u0000\u001b[31m'), '&lt;a href=&quot;x&quot;&gt;&amp;\uFFFD\uFFFD[31m');
  assert.equal(xmlEscape('tab\tnewline\n'), 'tab\tnewline\n');
});
