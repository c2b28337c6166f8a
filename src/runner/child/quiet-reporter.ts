// A node:test reporter that prints nothing. Results leave the process through test-events.ts,
// which hears each event the moment it happens; this only replaces node's default reporter.
// Its loading shows that node:test set up a run: the preload checks that it heard that run.
(globalThis as Record<symbol, unknown>)[Symbol.for('keel.reporter-loaded')] = true;

// eslint-disable-next-line require-yield -- a reporter is a generator; this one yields nothing
export default async function* quietReporter(source: AsyncIterable<unknown>) {
  for await (const _event of source) {
    // drain
  }
}
