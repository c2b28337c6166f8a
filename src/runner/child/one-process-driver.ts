// Entry script of a test process that runs test files in-process several times (keel test -R)
// or several files together (keel bisect), instead of node running one file once.
//
// node:test runs the tests a module declares when it is imported, and an ES module is evaluated
// once per URL: importing the same file under a fresh URL (`file.test.js?keel-run=2`) evaluates it
// again and declares its tests again, on the same root test, in the same process. Modules the file
// imports keep their plain URLs, so their state is shared across runs, which is what leak hunting
// looks at. After each import, a barrier test (a top-level test of Keel's, never reported) waits
// until every test declared so far has ended: node:test runs top-level tests one after another.
// This works alike on Node 20 and Node 22+; node:test's run() API does not (it runs files in child
// processes on Node 20, and imports each URL only once when asked to run in-process on 22+).
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { send } from './channel.js';
import { childState } from './child-state.js';
import { countResources } from './env-watch.js';

const DRIVE_ENV = 'KEEL_DRIVE';

/** What the runner asks the driver to do (JSON in KEEL_DRIVE). */
export interface DrivePlan {
  files: { name: string; url: string }[];
  /** How many times every file is imported, in order. */
  runs: number;
  /** Whether to record heap, handles and fds before the first run and after each run. */
  sample: boolean;
}

/** One turn of the event loop, started from a fresh Immediate: outside any test's async scope, so
 *  the tests a file declares next are top-level tests, not subtests of whatever ran last. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function openFds(): number | null {
  // Linux has /proc/self/fd, macOS and the BSDs /dev/fd. The directory handle readdirSync
  // opens is counted too, the same way every time.
  for (const dir of ['/proc/self/fd', '/dev/fd']) {
    try {
      return readdirSync(dir).length;
    } catch {
      // not on this OS
    }
  }
  return null;
}

async function sample(run: number): Promise<void> {
  // Closed handles leave the loop's books a turn or two after close(); let them go first.
  for (let i = 0; i < 3; i++) await nextTurn();
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice: the first collection can leave garbage that only finalizers freed.
  gc?.();
  gc?.();
  send({
    t: 'sample',
    run,
    heapUsed: process.memoryUsage().heapUsed,
    resources: Object.fromEntries(countResources(true)),
    fds: openFds(),
  });
}

async function endOfRun(label: string): Promise<void> {
  childState.barriers.add(label);
  await nextTurn();
  await test(label, () => {});
}

const requireCache = createRequire(import.meta.url).cache;
const plan = JSON.parse(process.env[DRIVE_ENV] ?? 'null') as DrivePlan | null;
if (!plan) throw new Error(`${DRIVE_ENV} is not set: this script is started by keel test`);

if (plan.sample) await sample(-1);
for (let run = 0; run < plan.runs; run++) {
  for (const file of plan.files) {
    await nextTurn();
    send({ t: 'run', file: file.name, run });
    // A CommonJS file is cached by its path, whatever the URL: forget it so it runs again (the
    // modules it requires stay cached and shared, as an ES module's imports do).
    if (run > 0) delete requireCache[fileURLToPath(file.url)];
    // The first import keeps the plain URL, so stacks and messages look as they do without -R.
    await import(run === 0 ? file.url : `${file.url}${file.url.includes('?') ? '&' : '?'}keel-run=${run}`);
    await endOfRun(`keel: end of ${file.name}, run ${run + 1}`);
  }
  if (plan.sample) await sample(run);
}
