// Config validation and loading: every problem listed with its path; .ts, .mjs and .json files.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ConfigInvalidError, defineConfig, force, genericHook, git, githubHook, gitlabHook, gitPoller, nightly, onChange, periodic, resolveConfig, shell, test,
} from '../../src/master/config.js';
import { loadConfig } from '../../src/master/config-loader.js';

const good = defineConfig({
  workers: [{ name: 'w1', secret: 'pw', maxBuilds: 2 }, { name: 'w2', secret: { env: 'KEEL_TEST_SECRET' } }],
  builders: [{
    name: 'linux',
    workers: ['w1', 'w2'],
    steps: [
      git({ repo: 'https://example.org/r.git' }),
      shell({ command: 'make -j4', haltOnFailure: true }),
      shell({ command: ['make', 'check'], decodeRC: { 5: 'warnings' } }),
      test({ name: 'test', command: 'npm test', reports: ['r.xml'] }),
    ],
  }],
  auth: { tokens: [{ env: 'KEEL_TEST_TOKEN' }] },
});

function problemsOf(input: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    resolveConfig(input, { env });
  } catch (err) {
    assert.ok(err instanceof ConfigInvalidError);
    assert.equal(err.code, 'KEEL_ERR_CONFIG_INVALID');
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected the config to be refused');
}

describe('resolveConfig', () => {
  it('resolves a good config, filling defaults and secrets from the environment', () => {
    const config = resolveConfig(good, { env: { KEEL_TEST_SECRET: 's2', KEEL_TEST_TOKEN: 't' } });
    assert.deepEqual(config.workers.map((w) => [w.name, w.secret, w.maxBuilds]), [['w1', 'pw', 2], ['w2', 's2', 1]]);
    assert.deepEqual(config.authTokens, ['t']);
    const steps = config.builders[0]?.steps ?? [];
    assert.deepEqual(steps.map((s) => s.name), ['git', 'make', 'make_2', 'test']);
    const first = steps[0];
    assert.equal(first?.type, 'git');
    if (first?.type === 'git') assert.equal(first.mode, 'incremental');
    assert.deepEqual([steps[1]?.timeout, steps[1]?.haltOnFailure, steps[1]?.flunkOnFailure, steps[2]?.decodeRC], [1200, true, true, { 5: 'warnings' }]);
  });

  it('helpers return plain objects whose type is the helper name', () => {
    assert.deepEqual(shell({ name: 'compile', command: 'make -j4' }), { type: 'shell', name: 'compile', command: 'make -j4' });
    assert.equal(git({ repo: 'x' }).type, 'git');
    assert.equal(test({ command: 'x' }).type, 'test');
  });

  it('lists every schema problem with its path', () => {
    const problems = problemsOf({
      workers: [{ name: 'w1', secret: 'x', maxBuilds: 0 }],
      builders: [
        { name: 'a', workers: ['w1'], steps: [{ type: 'shell', command: 'true' }] },
        { name: 'b', workers: ['w1'], steps: [{ type: 'shell', command: 'true' }] },
        { name: 'c', workers: ['w1'], steps: [{ type: 'shell', command: 'make', timeout: '10' }, { type: 'svn' }, { type: 'shell', command: 'x', haltOnFail: true }] },
      ],
    });
    assert.deepEqual(problems.sort(), [
      'builders[2].steps[0].timeout: expected a number, got "10"',
      'builders[2].steps[1].type: expected one of "shell", "git", "test", got "svn"',
      'builders[2].steps[2]: unknown field "haltOnFail"',
      'workers[0].maxBuilds: Too small: expected number to be >0, got 0',
    ].sort());
  });

  it('lists cross-field problems: duplicates, unknown workers, unset secrets, bad regexps', () => {
    const problems = problemsOf({
      workers: [{ name: 'w', secret: { env: 'NOPE_UNSET' } }, { name: 'w', secret: 'x' }],
      builders: [{ name: 'b', workers: ['w', 'ghost'], steps: [{ type: 'shell', command: 'x', setProperties: { v: '(' } }] }],
    });
    assert.equal(problems.length, 4);
    assert.ok(problems.includes('workers[0].secret: environment variable NOPE_UNSET is not set'));
    assert.ok(problems.includes('workers[1].name: duplicate worker name "w"'));
    assert.ok(problems.includes('builders[0].workers[1]: no worker named "ghost" in workers'));
    assert.ok(problems.some((p) => p.startsWith('builders[0].steps[0].setProperties.v: invalid regular expression')));
  });

  it('requires the fields that have no default', () => {
    assert.deepEqual(problemsOf({ builders: [{ workers: ['w'], steps: [] }] }).sort(), [
      'builders[0].name: required: expected a string',
      'builders[0].steps: Too small: expected array to have >=1 items',
    ]);
  });
});

describe('sources and schedulers in the config', () => {
  const withTriggers = (sources: unknown[], schedulers: unknown[], builders: unknown[] = good.builders ?? []) => ({ ...good, builders, sources, schedulers });
  const env = { KEEL_TEST_SECRET: 's2', KEEL_TEST_TOKEN: 't', GH_SECRET: 'gh', GEN: 'g1' };

  it('resolves every helper, reading hook secrets from the environment', () => {
    const config = resolveConfig(withTriggers(
      [gitPoller({ repo: '/srv/repo.git', branches: ['main'] }), githubHook({ secret: { env: 'GH_SECRET' } }), gitlabHook({}), genericHook({ tokens: [{ env: 'GEN' }, 'literal'] })],
      [onChange({ builders: ['linux'], branch: /3\.\d+/, treeStableTimer: 5 }), periodic({ builders: ['linux'], every: 3600 }),
        nightly({ builders: ['linux'], cron: '30 2 * * 1-5' }), force({ builders: ['linux'], params: [{ type: 'boolean', name: 'clean' }] })],
    ), { env });
    assert.deepEqual(config.sources, [
      { type: 'gitPoller', repo: '/srv/repo.git', branches: ['main'], interval: 60 },
      { type: 'githubHook', secret: 'gh' }, { type: 'gitlabHook' }, { type: 'genericHook', tokens: ['g1', 'literal'] },
    ]);
    assert.deepEqual(config.schedulers.map((sc) => sc.type), ['onChange', 'periodic', 'nightly', 'force']);
    assert.deepEqual([config.builders[0]!.collapse, config.builders[0]!.cancelSuperseded], [true, false]);
  });

  it('lists every problem of sources and schedulers with its path', () => {
    assert.deepEqual(problemsOf(withTriggers(
      [gitPoller({ repo: 'r', interval: -1 }), { type: 'svnPoller', repo: 'r' }, githubHook({ secret: { env: 'NOPE' } }), genericHook({ tokens: [] })],
      [onChange({ builders: [] }), { type: 'weekly', builders: ['linux'] }, periodic({ builders: ['linux'], every: '60' as unknown as number })],
    ), env), [
      'sources[0].interval: Too small: expected number to be >0, got -1',
      'sources[1].type: expected one of "gitPoller", "githubHook", "gitlabHook", "genericHook", got "svnPoller"',
      'sources[3].tokens: at least one token',
      'schedulers[0].builders: at least one builder',
      'schedulers[1].type: expected one of "onChange", "periodic", "nightly", "force", got "weekly"',
      'schedulers[2].every: expected a number, got "60"',
    ]);
    // Cross-checks once the shapes are right: unknown builders, duplicates, unset secrets, a bad cron.
    assert.deepEqual(problemsOf(withTriggers(
      [gitPoller({ repo: 'r' }), gitPoller({ repo: 'r' }), githubHook({ secret: { env: 'NOPE' } }), githubHook({})],
      [onChange({ builders: ['linux', 'linx'] }), nightly({ builders: ['linux'], cron: '61 * * * *' })],
    ), env), [
      'sources[1].repo: r is polled twice',
      'sources[2].secret: environment variable NOPE is not set',
      'sources[3].type: a second githubHook: one per master',
      'schedulers[0].builders[1]: no builder named "linx" in builders',
      'schedulers[1]: nightly scheduler nightly: cron "61 * * * *": ' + problemsOf(withTriggers([], [nightly({ builders: ['linux'], cron: '61 * * * *' })]), env)[0]!.replace(/^schedulers\[0\]: nightly scheduler nightly: cron "61 \* \* \* \*": /, ''),
    ]);
    assert.match(problemsOf(withTriggers([], [onChange({ name: 'x', builders: ['linux'] }), periodic({ name: 'x', builders: ['linux'], every: 1 })]), env)[0]!, /^schedulers\[1\]: the name x is used twice$/);
  });

  it('takes a function as a step command, and names the step after its type', () => {
    const config = resolveConfig({ ...good, builders: [{ name: 'b', workers: ['w1'], steps: [shell({ command: ({ props }) => `echo ${String(props['branch'])}` })] }] }, { env });
    const step = config.builders[0]!.steps[0]!;
    assert.equal(step.name, 'shell');
    assert.ok(step.type === 'shell' && typeof step.command === 'function');
    assert.deepEqual(problemsOf({ ...good, builders: [{ name: 'b', workers: ['w1'], collapse: 'no', steps: [{ type: 'shell', command: 42 }] }] }, env), [
      'builders[0].collapse: expected a boolean, got "no"',
      'builders[0].steps[0].command: ' + problemsOf({ ...good, builders: [{ name: 'b', workers: ['w1'], steps: [{ type: 'shell', command: 42 }] }] }, env)[0]!.split(': ').slice(1).join(': '),
    ]);
  });
});

describe('loading config files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const plain = { workers: [{ name: 'w', secret: 's' }], builders: [{ name: 'b', workers: ['w'], steps: [{ type: 'shell', command: 'echo hi' }] }] };

  it('loads .json, .mjs and .ts (with types) files', async () => {
    writeFileSync(join(dir, 'a.json'), JSON.stringify(plain));
    writeFileSync(join(dir, 'b.mjs'), `export default ${JSON.stringify(plain)};`);
    writeFileSync(join(dir, 'c.ts'), `const steps: { type: 'shell'; command: string }[] = [{ type: 'shell', command: 'echo ts' }];\nexport default { workers: [{ name: 'w', secret: 's' }], builders: [{ name: 'ts', workers: ['w'], steps }] };\n`);
    assert.equal((await loadConfig(join(dir, 'a.json'))).builders[0]?.name, 'b');
    assert.equal((await loadConfig(join(dir, 'b.mjs'))).builders[0]?.name, 'b');
    // A .ts config is loaded in a child process: tsx leaves an esbuild service running and its
    // cache in TMPDIR, both of which belong to that process and its temp folder, not this test.
    const bin = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const child = spawn(process.execPath, [bin, 'checkconfig', '--config', 'c.ts'], { cwd: dir, env: { ...process.env, TMPDIR: dir }, detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = await new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // The group (the CLI and its esbuild service) is gone already.
    }
    assert.equal(status, 0, stderr);
    assert.match(stdout, /c\.ts: OK — 1 worker\(s\), 1 builder\(s\), 1 step\(s\)/);
  });

  it('reports a file that cannot be evaluated as KEEL_ERR_CONFIG_LOAD', async () => {
    writeFileSync(join(dir, 'bad.mjs'), 'export default {{;');
    writeFileSync(join(dir, 'none.mjs'), 'export const x = 1;');
    await assert.rejects(loadConfig(join(dir, 'bad.mjs')), { code: 'KEEL_ERR_CONFIG_LOAD' });
    await assert.rejects(loadConfig(join(dir, 'none.mjs')), /no default export/);
  });

  it('keel checkconfig prints OK or every problem and exits non-zero', () => {
    const bin = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    writeFileSync(join(dir, 'keel.config.json'), JSON.stringify(plain));
    const ok = execFileSync(process.execPath, [bin, 'checkconfig'], { cwd: dir, encoding: 'utf8' });
    assert.match(ok, /OK — 1 worker\(s\), 1 builder\(s\), 1 step\(s\)/);
    writeFileSync(join(dir, 'broken.json'), JSON.stringify({ builders: [{ name: 'b', workers: ['w'], steps: [{ type: 'shell', command: 'x', timeout: '10' }] }] }));
    const bad = spawnSync(process.execPath, [bin, 'checkconfig', '--config', 'broken.json'], { cwd: dir, encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /builders\[0\]\.steps\[0\]\.timeout: expected a number, got "10"/);
    assert.match(bad.stderr, /KEEL_ERR_CONFIG_INVALID/);
  });
});
