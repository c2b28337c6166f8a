// Steps into worker commands: the git step's target for branches, tags and pull request refs,
// and commands written as functions of the build's properties.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/master/config.js';
import type { StepConfig } from '../../src/master/config.js';
import { KeelError } from '../../src/errors.js';
import { commandForStep } from '../../src/master/step-commands.js';

function builderWith(step: StepConfig) {
  return resolveConfig({ workers: [{ name: 'w', secret: 's' }], builders: [{ name: 'b', workers: ['w'], steps: [step] }] }, { env: {} }).builders[0]!;
}

const ctx = (branch: string | null, revision: string | null, props: Record<string, unknown> = {}) => ({ branch, revision, env: {}, props });

describe('commandForStep', () => {
  const gitBuilder = builderWith({ type: 'git', repo: '/srv/r.git', branch: 'main' });
  // The git script's arguments after `sh -c SCRIPT keel-git`: repo, ref, mode, extra ref to fetch.
  const gitArgs = (branch: string | null, revision: string | null) => commandForStep(gitBuilder.steps[0]!, { builder: gitBuilder, ...ctx(branch, revision) }).argv.slice(4);

  it('checks out a revision, a branch tip, or the step\'s own branch', () => {
    assert.deepEqual(gitArgs('dev', 'abc123'), ['/srv/r.git', 'abc123', 'incremental', '']);
    assert.deepEqual(gitArgs('dev', null), ['/srv/r.git', 'origin/dev', 'incremental', '']);
    assert.deepEqual(gitArgs(null, null), ['/srv/r.git', 'origin/main', 'incremental', '']);
    assert.deepEqual(gitArgs('refs/heads/dev', null), ['/srv/r.git', 'origin/dev', 'incremental', '']);
  });

  it('fetches refs outside refs/heads: a merge ref at its tip, a head ref or tag at the revision', () => {
    assert.deepEqual(gitArgs('refs/pull/7/merge', 'headsha'), ['/srv/r.git', 'refs/keel/fetched', 'incremental', 'refs/pull/7/merge']);
    assert.deepEqual(gitArgs('refs/pull/7/head', 'headsha'), ['/srv/r.git', 'headsha', 'incremental', 'refs/pull/7/head']);
    assert.deepEqual(gitArgs('refs/merge-requests/3/head', null), ['/srv/r.git', 'refs/keel/fetched', 'incremental', 'refs/merge-requests/3/head']);
  });

  it('renders a function command from the properties; a bad one is KEEL_ERR_STEP_COMMAND', () => {
    const render = (command: unknown, props: Record<string, unknown> = { python: '3.13' }) => {
      const builder = builderWith({ type: 'shell', command: command as string });
      return commandForStep(builder.steps[0]!, { builder, ...ctx('main', null, props) }).argv;
    };
    assert.deepEqual(render(({ props }: { props: Record<string, unknown> }) => `make PY=${String(props['python'])}`), ['sh', '-c', 'make PY=3.13']);
    assert.deepEqual(render(({ props }: { props: Record<string, unknown> }) => ['make', `PY=${String(props['python'])}`]), ['make', 'PY=3.13']);
    const failure = (command: unknown) => {
      try {
        render(command);
      } catch (err) {
        assert.ok(err instanceof KeelError);
        assert.equal(err.code, 'KEEL_ERR_STEP_COMMAND');
        return err.message;
      }
      assert.fail('expected KEEL_ERR_STEP_COMMAND');
    };
    assert.match(failure(() => { throw new Error('no python'); }), /threw: no python/);
    assert.match(failure(() => ''), /must return a command string or a non-empty argv array, got ""/);
    assert.match(failure(() => []), /got \[\]/);
    assert.match(failure(() => undefined), /got undefined/);
    assert.match(failure(() => ['make', 3]), /got \["make",3\]/);
  });
});
