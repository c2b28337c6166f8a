// The config `keel up` runs when the folder has none: one builder that builds and tests
// examples/demo-project (a node:test suite with a flaky test) on the local worker.
// Plain objects, no imports from 'keel': a config needs nothing but its shape.
import { fileURLToPath } from 'node:url';

const project = fileURLToPath(new URL('./demo-project/', import.meta.url));
const keel = fileURLToPath(new URL('../build/src/cli/main.js', import.meta.url));

export default {
  title: 'Keel demo',
  workers: [{ name: 'local', secret: { env: 'KEEL_LOCAL_SECRET' }, maxBuilds: 2 }],
  builders: [{
    name: 'demo',
    description: 'examples/demo-project: node:test suite with one flaky test, run by keel test -w',
    tags: ['example'],
    workers: ['local'],
    steps: [
      { type: 'shell', name: 'checkout', command: ['sh', '-c', 'find . -mindepth 1 -maxdepth 1 -exec rm -rf {} + && cp -R "$0"/. .', project], haltOnFailure: true },
      { type: 'shell', name: 'node', command: 'node --version', setProperties: { node_version: '^(v\\S+)$' } },
      // keel test exits 0 on "FAILURE then SUCCESS" (the flaky test passed when re-run).
      // A command may be a function of the build's properties: `jobs` is the force parameter below.
      { type: 'test', name: 'test', command: ({ props }) => [process.execPath, keel, 'test', '-w', '-j', String(props.jobs ?? 1), '--testdir', 'test'], timeout: 300 },
    ],
  }],
  // `keel force demo --param jobs=4` (or the API's `params`) runs the tests on 4 processes.
  schedulers: [{ type: 'force', builders: ['demo'], params: [{ type: 'int', name: 'jobs', default: 1, min: 0, max: 64 }] }],
};
