// Hears node:test's events synchronously, as they happen, and sends each finished test on the
// results channel. A reporter would hear them too, but later (reporters run asynchronously and
// are loaded after the first tests may have run), so a test that crashes the process right after
// others passed would take their results with it.
import { Readable } from 'node:stream';
import { send } from './channel.js';
import { childState, finish } from './child-state.js';
import { countResources } from './env-watch.js';

/** After the last running test ends, how long the loop may stay busy before we look at why. */
const IDLE_CHECK_MS = 100;
/** How long a busy loop with no test running is tolerated before the file is ended for it. */
const LEFTOVER_GRACE_MS = 1000;

interface TestEventData {
  name: string;
  nesting: number;
  skip?: string | boolean;
  todo?: string | boolean;
  details?: { duration_ms?: number; type?: string; error?: Error & { failureType?: string; cause?: unknown } };
}

type EventSource = { on(event: string, listener: (data: TestEventData) => void): unknown };

/**
 * node:test keeps its event stream (TestsStream) to itself, but its harness subscribes to it
 * (`test:fail` on node 20, `test:summary` on 22+) as soon as the first test is declared. We catch
 * that first subscription, keep the stream, and put Readable.prototype.on back at once.
 */
export function captureTestEvents(): void {
  const originalOn = Readable.prototype.on;
  Readable.prototype.on = function (this: Readable, event: string | symbol, listener: (...args: unknown[]) => void) {
    if (typeof event === 'string' && event.startsWith('test:') && this.constructor?.name === 'TestsStream') {
      Readable.prototype.on = originalOn;
      listen(this as unknown as EventSource);
    }
    return originalOn.call(this, event, listener);
  } as typeof originalOn;
}

function describeError(error: (Error & { failureType?: string; cause?: unknown }) | undefined) {
  if (!error) return {};
  const cause = error.cause;
  const inner = cause instanceof Error ? cause : undefined;
  const message = inner ? inner.message : cause !== undefined && cause !== null ? String(cause) : error.message;
  const stack = inner?.stack ?? error.stack;
  return { failureType: error.failureType, message, ...(stack !== undefined ? { stack } : {}) };
}

function listen(stream: EventSource): void {
  childState.testsStarted = true;
  const names: string[] = [];
  const hasChildren: boolean[] = [];
  let running = 0;
  let idleTimer: NodeJS.Timeout | undefined;

  // node:test ends its run only when the event loop empties. A file that leaves a timer or a
  // server behind would hang until the timeout; instead we notice the idle-but-alive loop, name
  // what keeps it alive and end the process, as an env change.
  const armIdle = () => {
    clearTimeout(idleTimer);
    const started = Date.now();
    const check = () => {
      if (running > 0 || childState.ended) return;
      if (Date.now() - started < LEFTOVER_GRACE_MS) {
        idleTimer = setTimeout(check, IDLE_CHECK_MS).unref();
        return;
      }
      finish(true, countResources(true));
      process.exit(process.exitCode ?? 0);
    };
    idleTimer = setTimeout(check, IDLE_CHECK_MS).unref();
  };

  const isBarrier = (data: TestEventData) => data.nesting === 0 && childState.barriers.has(data.name);

  stream.on('test:dequeue', (data) => {
    running++;
    clearTimeout(idleTimer);
    if (isBarrier(data)) return;
    send({ t: 'running', name: data.name, nesting: data.nesting });
  });
  stream.on('test:complete', () => {
    running--;
    if (running === 0) armIdle();
  });
  stream.on('test:start', (data) => {
    names.length = data.nesting;
    names[data.nesting] = data.name;
    hasChildren[data.nesting] = false;
    if (data.nesting > 0) hasChildren[data.nesting - 1] = true;
  });
  const onResult = (failed: boolean) => (data: TestEventData) => {
    if (isBarrier(data)) return;
    const path = [...names.slice(0, data.nesting), data.name];
    const container = data.details?.type === 'suite' || hasChildren[data.nesting] === true;
    const outcome = data.todo ? 'todo' : data.skip ? 'skip' : failed ? 'fail' : 'pass';
    const reason = typeof data.skip === 'string' ? data.skip : typeof data.todo === 'string' ? data.todo : undefined;
    send({
      t: 'test',
      names: path,
      outcome,
      durationMs: data.details?.duration_ms ?? 0,
      container,
      suite: data.details?.type === 'suite',
      ...(failed ? describeError(data.details?.error) : {}),
      ...(reason !== undefined ? { reason } : {}),
    });
  };
  stream.on('test:pass', onResult(false));
  stream.on('test:fail', onResult(true));
  // The root test's plan comes last, once every test of the file has ended.
  stream.on('test:plan', (data) => {
    if (data.nesting === 0) {
      clearTimeout(idleTimer);
      finish(true);
    }
  });
}
