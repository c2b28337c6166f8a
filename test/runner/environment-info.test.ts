// keel info with a real process: the JSON parses, has every key docs/keel-info.md documents (and
// nothing undocumented), hides secrets, and reads dependency versions from the project's lockfile.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { collectEnvironmentInfo, redactEnvValue } from '../../src/runner/environment-info.js';
import { makeSuite, removeSuite, repoRoot, runKeel } from '../helpers/keel-cli.js';

interface DocumentedKey {
  key: string;
  /** For a family (`env.NAME`): the prefix its keys start with. */
  prefix?: string;
  always: boolean;
}

/** The keys of docs/keel-info.md's tables: `| \`key\` | always | meaning |`. */
function documentedKeys(): DocumentedKey[] {
  const doc = readFileSync(path.join(repoRoot, 'docs/keel-info.md'), 'utf8');
  const keys: DocumentedKey[] = [];
  for (const m of doc.matchAll(/^\| `([^`]+)` \| ([^|]+) \|/gm)) {
    const key = m[1]!;
    const family = key.endsWith('.NAME');
    keys.push({ key, ...(family ? { prefix: key.slice(0, -'NAME'.length) } : {}), always: m[2]!.trim() === 'yes' });
  }
  return keys;
}

const PROJECT = {
  'package.json': JSON.stringify({ name: 'demo', version: '1.2.3', dependencies: { leftpad: '^1.0.0', missing: '^2.0.0' }, devDependencies: { tool: '~3.1.0' } }),
  'package-lock.json': JSON.stringify({
    name: 'demo',
    lockfileVersion: 3,
    packages: {
      '': { name: 'demo', version: '1.2.3' },
      'node_modules/leftpad': { version: '1.3.0' },
      'node_modules/tool': { version: '3.1.4' },
      'node_modules/leftpad/node_modules/inner': { version: '0.0.1' },
    },
  }),
};

/** A temporary directory inside the suite, removed with it. */
function scratch(dir: string): string {
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  return tmp;
}

describe('keel info', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeSuite));

  test('--json parses and has exactly the documented keys; secrets are redacted', async () => {
    const dir = makeSuite(PROJECT);
    dirs.push(dir);
    const env = {
      NODE_OPTIONS: '--max-old-space-size=512',
      NODE_AUTH_TOKEN: 'npm-s3cret-token',
      KEEL_SECRET_UBUNTU_1: 'worker-s3cret',
      HTTPS_PROXY: 'http://bob:proxy-s3cret@proxy.example:3128',
      TZ: 'Europe/Paris',
      CI: 'true',
      UNRELATED_VARIABLE: 'not shown',
    };
    // Nothing keel info runs may leave files in the temporary directory (npm on Node 22+ would
    // start a compile cache there unless told not to).
    const tmp = scratch(dir);
    const r = await runKeel(['info', '--json'], dir, { ...env, TMPDIR: tmp });
    assert.deepEqual(readdirSync(tmp), []);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout) as Record<string, string>;
    for (const value of Object.values(info)) assert.equal(typeof value, 'string');
    assert.deepEqual(Object.keys(info), Object.keys(info).sort(), 'keys are sorted');

    const documented = documentedKeys();
    assert.ok(documented.length > 50, 'the docs table was read');
    for (const d of documented.filter((k) => k.always)) {
      if (d.prefix) assert.ok(Object.keys(info).some((k) => k.startsWith(d.prefix!)), `no key of the family ${d.key}`);
      else assert.ok(d.key in info, `documented key ${d.key} missing`);
    }
    for (const key of Object.keys(info)) {
      assert.ok(documented.some((d) => d.key === key || (d.prefix && key.startsWith(d.prefix))), `undocumented key ${key}`);
    }

    assert.equal(info['node.version'], process.version);
    assert.equal(info['node.v8'], process.versions.v8);
    assert.equal(info['cpu.count'], String((await import('node:os')).cpus().length));
    assert.equal(info['env.NODE_OPTIONS'], '--max-old-space-size=512');
    assert.equal(info['env.TZ'], 'Europe/Paris');
    assert.equal(info['locale.timeZone'], 'Europe/Paris');
    assert.match(info['locale.utcOffset']!, /^\+0[12]:00$/);
    assert.equal(info['env.CI'], 'true');
    assert.equal(info['env.NODE_AUTH_TOKEN'], '<redacted>');
    assert.equal(info['env.KEEL_SECRET_UBUNTU_1'], '<redacted>');
    assert.equal(info['env.HTTPS_PROXY'], 'http://bob:<redacted>@proxy.example:3128');
    assert.ok(!('env.UNRELATED_VARIABLE' in info));
    assert.doesNotMatch(r.stdout, /s3cret/);

    assert.equal(info['project.root'], dir);
    assert.equal(info['project.name'], 'demo');
    assert.equal(info['project.lockfile'], 'package-lock.json');
    assert.equal(info['deps.leftpad'], '1.3.0');
    assert.equal(info['deps.tool'], '3.1.4');
    assert.equal(info['deps.missing'], 'not installed (wants ^2.0.0)');
    assert.ok(!('deps.inner' in info), 'only direct dependencies');
    if (process.platform === 'linux') assert.match(info['ulimit.open_files']!, /^soft=\S+ hard=\S+ files$/);
  });

  test('without --json: sorted key: value lines, one per key', async () => {
    const dir = makeSuite(PROJECT);
    dirs.push(dir);
    const r = await runKeel(['info'], dir, { TMPDIR: scratch(dir) });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    for (const line of lines) assert.match(line, /^[\w.@/-]+: .*$/);
    const keys = lines.map((l) => l.slice(0, l.indexOf(': ')));
    assert.deepEqual(keys, [...keys].sort());
    assert.ok(lines.includes(`node.version: ${process.version}`));
    assert.ok(lines.includes('deps.leftpad: 1.3.0'));
  });

  test('yarn.lock versions, and the installed version when the lockfile lacks one', async () => {
    const dir = makeSuite({
      'package.json': JSON.stringify({ name: 'y', dependencies: { alpha: '^1.0.0', beta: 'npm:gamma@^2.0.0', delta: '*' } }),
      'yarn.lock':
        '# yarn lockfile v1\n\n\nalpha@^1.0.0, alpha@^1.1.0:\n  version "1.4.2"\n  resolved "https://registry.example/alpha-1.4.2.tgz"\n\n' +
        '"beta@npm:gamma@^2.0.0":\n  version "2.0.5"\n',
      'node_modules/delta/package.json': JSON.stringify({ name: 'delta', version: '0.9.0' }),
    });
    dirs.push(dir);
    const info = await collectEnvironmentInfo({ cwd: path.join(dir) });
    assert.equal(info['project.lockfile'], 'yarn.lock');
    assert.equal(info['deps.alpha'], '1.4.2');
    assert.equal(info['deps.beta'], '2.0.5');
    assert.equal(info['deps.delta'], '0.9.0 (installed; not in the lockfile)');
  });

  test('redaction by name and inside URLs', () => {
    assert.equal(redactEnvValue('GITHUB_TOKEN', 'ghp_x'), '<redacted>');
    assert.equal(redactEnvValue('NPM_CONFIG__AUTH', 'x'), '<redacted>');
    assert.equal(redactEnvValue('npm_config_registry', 'https://u:p4ss@reg.example/npm/'), 'https://u:<redacted>@reg.example/npm/');
    assert.equal(redactEnvValue('TZ', 'UTC'), 'UTC');
  });
});
