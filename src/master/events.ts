// Typed events the master publishes after each write: the API's live stream (and later the
// notifiers) subscribe here and never poll the database.
import { EventEmitter } from 'node:events';
import type { BuildResult } from './results.js';

export type MasterEvent =
  | { type: 'change.added'; changeId: number; repository: string; branch: string; revision: string }
  | { type: 'request.added'; requestId: number; builder: string }
  | { type: 'request.merged'; requestId: number; into: number; builder: string }
  | { type: 'build.started'; buildId: number; builder: string; number: number; worker: string; requestId: number }
  | { type: 'build.finished'; buildId: number; builder: string; number: number; result: BuildResult; reason: string | null }
  | { type: 'step.started'; buildId: number; step: number; name: string }
  | { type: 'step.finished'; buildId: number; step: number; name: string; result: BuildResult }
  | { type: 'log.lines'; buildId: number; step: number; log: string; numLines: number }
  | { type: 'tests.stored'; buildId: number; step: number; name: string; total: number; failed: number; flaky: number }
  | { type: 'test.quarantine'; testId: string; quarantined: boolean }
  | { type: 'worker.connected'; worker: string }
  | { type: 'worker.disconnected'; worker: string; reason: string };

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every open SSE stream is a listener; there is no leak to warn about.
    this.emitter.setMaxListeners(0);
  }

  publish(event: MasterEvent): void {
    this.emitter.emit('event', event);
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: (event: MasterEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
