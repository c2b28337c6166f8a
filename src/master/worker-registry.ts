// The master's side of worker connections: authenticates each hello against the config, keeps
// the connected workers and their free slots, runs commands on them and routes output back.
import { createHash, timingSafeEqual } from 'node:crypto';
import { ProtocolConnection } from '../protocol/connection.js';
import type { MessageTransport } from '../protocol/connection.js';
import { decodeWorkerFrame, outputBytes, PROTOCOL_VERSION } from '../protocol/messages.js';
import { canUseLz4 } from '../storage/log-chunks.js';
import type {
  CommandFinishedMessage, CommandOutputMessage, CommandStartMessage, MasterOutgoing, WorkerInfo, WorkerMessage,
} from '../protocol/messages.js';
import type { Storage } from '../storage/storage.js';
import type { ResolvedWorker } from './config.js';
import type { EventBus } from './events.js';
import type { Clock, MasterLog } from './master-deps.js';

export type CommandRequest = Omit<CommandStartMessage, 'type' | 'seq' | 'commandId'>;
export type CommandOutcome = Omit<CommandFinishedMessage, 'type' | 'seq' | 'commandId'>;
export type OutputChunks = CommandOutputMessage['chunks'];
/** A report file the worker sent after the command (its bytes), or why it did not. */
export type ReceivedReport = { path: string; data: Buffer } | { path: string; skipped: string };

/** Thrown into a running command's promise when its worker's connection is lost. */
export class WorkerLostError extends Error {
  constructor(worker: string, reason: string) {
    super(`worker ${worker} lost: ${reason}`);
  }
}

interface PendingCommand {
  /** Must take the chunks synchronously; resolves once they are stored. */
  onOutput: (chunks: OutputChunks) => Promise<void>;
  onReport: ((report: ReceivedReport) => void) | undefined;
  /** Output is stored in order: each batch waits for the one before. */
  chain: Promise<void>;
  resolve: (outcome: CommandOutcome) => void;
  reject: (err: Error) => void;
}

export class ConnectedWorker {
  running = 0;
  private nextCommand = 1;
  private readonly commands = new Map<string, PendingCommand>();

  constructor(
    readonly name: string,
    readonly info: WorkerInfo,
    readonly maxBuilds: number,
    private readonly conn: ProtocolConnection<WorkerMessage, MasterOutgoing>,
  ) {}

  get freeSlots(): number {
    return Math.max(0, this.maxBuilds - this.running);
  }

  /** Runs a command; resolves with how it ended, rejects with WorkerLostError. */
  runCommand(request: CommandRequest, onOutput: (chunks: OutputChunks) => Promise<void>, onReport?: (report: ReceivedReport) => void): { commandId: string; done: Promise<CommandOutcome> } {
    const commandId = `c${this.nextCommand++}`;
    const done = new Promise<CommandOutcome>((resolve, reject) => {
      this.commands.set(commandId, { onOutput, onReport, chain: Promise.resolve(), resolve, reject });
    });
    if (this.conn.send({ type: 'command.start', commandId, ...request }) === undefined) {
      this.lost('connection closed');
    }
    return { commandId, done };
  }

  interrupt(commandId: string, reason: string): void {
    if (this.commands.has(commandId)) this.conn.send({ type: 'command.interrupt', commandId, reason });
  }

  handle(msg: WorkerMessage): void {
    if (msg.type === 'command.output') {
      const cmd = this.commands.get(msg.commandId);
      if (!cmd) return;
      const bytes = msg.chunks.reduce((n, c) => n + outputBytes(c), 0);
      // onOutput takes the batch at once, in arrival order, so the next batch is parsed while
      // this one is compressed and written. The ack waits until it is stored: that, with the
      // worker's window, is what bounds the output in flight.
      const stored = cmd.onOutput(msg.chunks);
      cmd.chain = Promise.all([cmd.chain, stored]).then(
        () => void this.conn.send({ type: 'output.ack', commandId: msg.commandId, bytes }),
        (err: unknown) => cmd.reject(err instanceof Error ? err : new Error(String(err))),
      );
    } else if (msg.type === 'command.report') {
      // Reports come before command.finished; one for a command that is not running is dropped.
      const cmd = this.commands.get(msg.commandId);
      if (msg.data !== undefined) cmd?.onReport?.({ path: msg.path, data: Buffer.from(msg.data, 'base64') });
      else cmd?.onReport?.({ path: msg.path, skipped: msg.skipped ?? 'not sent' });
    } else if (msg.type === 'command.finished') {
      const cmd = this.commands.get(msg.commandId);
      if (!cmd) return;
      this.commands.delete(msg.commandId);
      const { type: _t, seq: _s, commandId: _c, ...outcome } = msg;
      void cmd.chain.then(() => cmd.resolve(outcome));
    }
  }

  close(code: number, reason: string): void {
    this.conn.close(code, reason);
  }

  lost(reason: string): void {
    for (const [id, cmd] of this.commands) {
      this.commands.delete(id);
      cmd.reject(new WorkerLostError(this.name, reason));
    }
  }
}

function sameSecret(a: string, b: string): boolean {
  // Hash first so the comparison is constant-time whatever the lengths.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export interface WorkerRegistryDeps {
  storage: Storage;
  events: EventBus;
  clock: Clock;
  log: MasterLog;
  masterName: string;
  heartbeatMs: number;
  /** Called whenever a slot may have become free or a worker appeared. */
  onCapacity: () => void;
  /** Called when a worker disconnects, after its commands were failed. */
  onLost: (worker: ConnectedWorker, reason: string) => void;
}

export class WorkerRegistry {
  private readonly connected = new Map<string, ConnectedWorker>();
  private workers = new Map<string, ResolvedWorker>();

  constructor(private readonly deps: WorkerRegistryDeps, workers: readonly ResolvedWorker[]) {
    this.setConfig(workers);
  }

  setConfig(workers: readonly ResolvedWorker[]): void {
    this.workers = new Map(workers.map((w) => [w.name, w]));
  }

  get(name: string): ConnectedWorker | undefined {
    return this.connected.get(name);
  }

  all(): ConnectedWorker[] {
    return [...this.connected.values()];
  }

  /** Takes a new transport (a WebSocket on /ws/worker) through the handshake. */
  accept(transport: MessageTransport, peer: string): void {
    const { log } = this.deps;
    const conn = new ProtocolConnection<WorkerMessage, MasterOutgoing>(transport, decodeWorkerFrame, log, `worker connection ${peer}`);
    let worker: ConnectedWorker | undefined;
    const refuse = (message: string, re?: number) => {
      log.warn(`refused worker connection from ${peer}: ${message}`);
      conn.send({ type: 'refused', code: 'KEEL_ERR_WORKER_AUTH', message, ...(re !== undefined ? { re } : {}) });
      conn.close(4001, 'refused');
    };
    // A frame the connection itself refused as malformed before the handshake ends it.
    const firstFrame = setTimeout(() => !worker && conn.close(4002, 'no hello'), 10 * this.deps.heartbeatMs);
    firstFrame.unref();
    conn.onMessage((msg) => {
      if (worker) {
        if (msg.type === 'hello') conn.refuse('hello after handshake', msg.seq);
        else worker.handle(msg);
        return;
      }
      if (msg.type !== 'hello') {
        refuse(`expected hello, got ${msg.type}`, msg.seq);
        return;
      }
      const config = this.workers.get(msg.name);
      if (msg.protocol !== PROTOCOL_VERSION) return refuse(`protocol version ${msg.protocol} is not supported (this master speaks ${PROTOCOL_VERSION})`, msg.seq);
      if (!config || !sameSecret(msg.secret, config.secret)) return refuse(`unknown worker name or wrong secret for "${msg.name}"`, msg.seq);
      // An authenticated worker whose name is still connected is usually the same worker back
      // from a network cut the old socket has not noticed yet: the new connection wins, and the
      // old one's builds end in RETRY as for any lost worker.
      const previous = this.connected.get(msg.name);
      if (previous) {
        log.warn(`worker ${msg.name} connected again from ${peer}; closing its previous connection`);
        previous.close(4004, 'replaced by a new connection');
      }
      clearTimeout(firstFrame);
      worker = new ConnectedWorker(msg.name, msg.info, Math.min(config.maxBuilds, msg.maxBuilds ?? config.maxBuilds), conn);
      this.connected.set(msg.name, worker);
      conn.send({ type: 'welcome', re: msg.seq, protocol: PROTOCOL_VERSION, heartbeatMs: this.deps.heartbeatMs, master: this.deps.masterName, lz4: canUseLz4() });
      conn.startHeartbeat(this.deps.heartbeatMs, () => ({ type: 'heartbeat', time: this.deps.clock.now() }));
      log.info(`worker ${msg.name} connected from ${peer}`);
      void this.deps.storage.upsertWorker(msg.name, msg.info, true, this.deps.clock.now()).catch((err: unknown) => log.error(`storing worker ${msg.name}: ${String(err)}`));
      this.deps.events.publish({ type: 'worker.connected', worker: msg.name });
      this.deps.onCapacity();
    });
    transport.onMessage((text) => {
      // The connection answers malformed frames with `error`; before the handshake we also hang up.
      if (!worker && !decodeWorkerFrame(text).ok) conn.close(4003, 'malformed frame before hello');
    });
    conn.onClose((reason) => {
      clearTimeout(firstFrame);
      if (!worker || this.connected.get(worker.name) !== worker) return;
      this.connected.delete(worker.name);
      log.info(`worker ${worker.name} disconnected: ${reason}`);
      worker.lost(reason);
      void this.deps.storage.setWorkerConnected(worker.name, false, this.deps.clock.now()).catch(() => {});
      this.deps.events.publish({ type: 'worker.disconnected', worker: worker.name, reason });
      this.deps.onLost(worker, reason);
    });
  }

  closeAll(): void {
    for (const w of this.connected.values()) w.close(1001, 'master shutting down');
  }
}
