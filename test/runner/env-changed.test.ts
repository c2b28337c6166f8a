// Env-changed checks with real processes: environment variables, the working directory,
// temporary files and handles left behind.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { closingLines, makeSuite, removeSuite, runKeel } from '../helpers/keel-cli.js';

describe('keel test env changed', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeSuite));
  const suite = () => {
    const dir = makeSuite({
      'test/env.test.mjs': "import { test } from 'node:test';\ntest('sets a variable', () => { process.env.LEAKED_SETTING = 'x'; });\n",
      'test/cwd.test.mjs': "import { test } from 'node:test'; import os from 'node:os';\ntest('moves', () => { process.chdir(os.homedir()); });\n",
      'test/tmp.test.mjs': "import { test } from 'node:test'; import os from 'node:os'; import { writeFileSync } from 'node:fs';\ntest('leaves a file', () => { writeFileSync(os.tmpdir() + '/left-behind.txt', 'x'); });\n",
      'test/timer.test.mjs': "import { test } from 'node:test';\ntest('leaves an interval', () => { setInterval(() => {}, 1000); });\n",
      'test/clean.test.mjs': "import { test } from 'node:test'; import os from 'node:os'; import { writeFileSync, rmSync } from 'node:fs';\ntest('cleans up', () => { const f = os.tmpdir() + '/x'; writeFileSync(f, 'x'); rmSync(f); const t = setInterval(() => {}, 10); clearInterval(t); });\n",
    });
    dirs.push(dir);
    return dir;
  };

  test('each change is reported; the run succeeds without --fail-env-changed', async () => {
    const r = await runKeel(['test', '-j2'], suite());
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /Warning -- env process\.env: added LEAKED_SETTING/);
    assert.match(r.stdout, /Warning -- cwd working directory changed: /);
    assert.match(r.stdout, /Warning -- tmp leaked temporary files \(1\): left-behind\.txt/);
    assert.match(r.stdout, /Warning -- timer left active after its tests: 1 Timeout/);
    assert.match(r.stdout, /4 test files altered the execution environment \(env changed\):\n {4}cwd env timer tmp\n/);
    assert.doesNotMatch(r.stdout, /Warning -- clean/);
    assert.equal(closingLines(r.stdout).result, 'SUCCESS');
  });

  test('--fail-env-changed makes ENV CHANGED, exit 3', async () => {
    const r = await runKeel(['test', '-j2', '--fail-env-changed'], suite());
    assert.equal(r.code, 3, r.stdout);
    assert.deepEqual(closingLines(r.stdout), { result: 'ENV CHANGED', tests: '5 passed, 0 failed, 0 skipped' });
  });
});
