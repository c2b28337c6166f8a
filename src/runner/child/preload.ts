// Loaded with --import into every test process before the test file: opens the results channel,
// starts listening for node:test's events, and makes sure an early exit (process.exit(), a
// top-level throw) still sends an end.
import { send } from './channel.js';
import { childState, finish } from './child-state.js';
import { captureTestEvents } from './test-events.js';

send({ t: 'hello', pid: process.pid, node: process.version });
captureTestEvents();

process.on('exit', (code) => {
  if (!childState.testsStarted && (globalThis as Record<symbol, unknown>)[Symbol.for('keel.reporter-loaded')]) {
    // node:test ran, but its events never reached us: a Node.js whose test runner works
    // differently. Say so, rather than report a suite with no tests.
    send({ t: 'end', complete: false, envChanges: [], problem: `Keel could not hear node:test's events in Node.js ${process.version}` });
    childState.ended = true;
    return;
  }
  // A file that never declared a test and exits cleanly ran to its end with no tests; one that
  // did declare tests and exits before the root test's plan was cut short.
  finish(!childState.testsStarted && code === 0);
});
