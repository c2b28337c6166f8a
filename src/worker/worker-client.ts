// The worker daemon: connects to the master's /ws/worker, handshakes, runs the commands it is
// sent (each through a CommandRunner), streams their output in acknowledged batches, and
// reconnects with backoff when the connection drops.
import { mkdirSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import WebSocket from 'ws';
import { ProtocolConnection } from '../protocol/connection.js';
import {
  decodeMasterFrame, encodeOutputFrame, MAX_FRAME_BYTES, OUTPUT_BATCH_BYTES, OUTPUT_BATCH_INTERVAL_MS, OUTPUT_BATCH_MS, OUTPUT_WINDOW_BYTES, PROTOCOL_VERSION,
} from '../protocol/messages.js';
import type { CommandStartMessage, EncodedOutputPiece, LogStreamTag, MasterMessage, RawOutputPiece, WorkerInfo, WorkerOutgoing } from '../protocol/messages.js';
import { webSocketTransport } from '../protocol/transports.js';
import { LogWriter } from '../storage/log-writer.js';
import type { EncodedLogChunk } from '../storage/storage.js';
import { CommandRunner } from './command-runner.js';
import { RUN_TOKEN_VARIABLE, startWorkerRun } from './orphan-reaper.js';
import { collectReports } from './report-files.js';

export interface WorkerLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface WorkerOptions {
  /** ws://HOST:PORT or the full ws://HOST:PORT/ws/worker. */
  masterUrl: string;
  name: string;
  secret: string;
  basedir: string;
  /** This worker's own limit; undefined leaves it to the master's config. */
  maxBuilds?: number;
  info: WorkerInfo;
  log: WorkerLog;
  /** First reconnect delay; doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

type Connection = ProtocolConnection<MasterMessage, WorkerOutgoing>;

/**
 * Above this many bytes of one unfinished line, the worker stops cutting and compressing and
 * passes the output on as printed (the master then holds the line, as it did before workers
 * compressed), so a command printing a huge line without a newline cannot grow the worker.
 */
const LONG_LINE_BYTES = 1024 * 1024;

/**
 * One running command and its output pipeline: cutting, compressing, sending, flow control.
 * The worker cuts the output into whole lines and deflates chunks of them itself, the very
 * chunks the master stores: a 100 MB log crosses the connection as a few MB, and the master
 * neither copies, scans nor compresses it (that was most of its CPU and memory for big logs).
 */
class CommandSession {
  /** Output as printed, once a line grew too long for cutting (see LONG_LINE_BYTES). */
  private pending: RawOutputPiece[] = [];
  private pendingBytes = 0;
  private passThrough = false;
  /** Output bytes sent and not yet acknowledged. */
  private inFlight = 0;
  /** Compressed chunks waiting for an ack before they go (see sendChunk), and their output bytes. */
  private held: EncodedOutputPiece[] = [];
  private heldBytes = 0;
  private paused = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the last batch of chunks went (performance.now()), and the wait for the next. */
  private lastSent = -Infinity;
  private intervalTimer: NodeJS.Timeout | undefined;
  private readonly writer: LogWriter;
  readonly runner: CommandRunner;

  constructor(private readonly conn: Connection, readonly id: string, msg: CommandStartMessage, cwd: string, runToken: string, fifoRoot: string, codec: 'lz4' | 'deflate') {
    // A sink that sends each chunk as soon as it is compressed, in order (the writer chains them).
    this.writer = new LogWriter({ appendLogChunks: async (_log, cs) => cs.forEach((c) => this.sendChunk(c)), finishLog: async () => {} }, 0);
    // The live log: whole lines wait at most one batch interval on the worker.
    this.writer.maxDelayMs = OUTPUT_BATCH_MS;
    // The runner's bytes live in its read buffers only during the call.
    this.writer.transientInput = true;
    this.writer.codec = codec;
    this.runner = new CommandRunner(
      {
        argv: msg.argv, cwd, env: { ...process.env as Record<string, string>, ...msg.env, [RUN_TOKEN_VARIABLE]: runToken },
        timeout: msg.timeout, maxTime: msg.maxTime, killGraceMs: msg.killGraceMs, fifoRoot,
      },
      (stream, data) => this.output(stream, data),
    );
  }

  private output(stream: LogStreamTag, data: Buffer): void {
    if (this.passThrough) {
      // A copy: the runner reads the next pipe read into the same buffer.
      this.pending.push({ stream, data: Buffer.from(data) });
      this.pendingBytes += data.length;
      if (this.pendingBytes >= OUTPUT_BATCH_BYTES) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), OUTPUT_BATCH_MS);
    } else {
      // Errors cannot happen here (the sink never fails); the catch keeps a rejection unhandled from crashing.
      this.writer.append(stream, data).catch(() => {});
      if (this.writer.partialBytes > LONG_LINE_BYTES) {
        this.passThrough = true;
        for (const p of this.writer.takePartials()) this.output(p.stream, p.data);
      }
    }
    this.checkFlow();
  }

  /**
   * Like Nagle's algorithm: a chunk goes at once when nothing is unacknowledged and no batch went
   * in the last OUTPUT_BATCH_INTERVAL_MS; otherwise it waits for both, joined by the chunks
   * compressed meanwhile, up to a quarter window of compressed bytes per frame. At full speed
   * that is a fraction of the frames, system calls, wake-ups, acks and the master's transactions
   * of a frame per chunk; when output trickles, nothing waits.
   */
  private sendChunk(c: EncodedLogChunk): void {
    const data = Buffer.from(c.content.buffer, c.content.byteOffset, c.content.byteLength);
    this.held.push({ lines: c.lastLine - c.firstLine + 1, streams: c.streams, rawBytes: c.rawBytes, data });
    this.heldBytes += data.length;
    if (this.heldBytes >= OUTPUT_WINDOW_BYTES / 4) this.sendHeld();
    else this.sendWhenDue();
    this.checkFlow();
  }

  private sendWhenDue(): void {
    if (this.held.length === 0 || this.inFlight > 0 || this.intervalTimer) return;
    const wait = this.lastSent + OUTPUT_BATCH_INTERVAL_MS - performance.now();
    if (wait <= 0) this.sendHeld();
    else {
      this.intervalTimer = setTimeout(() => {
        this.intervalTimer = undefined;
        this.sendWhenDue();
      }, wait);
    }
  }

  private sendHeld(): void {
    clearTimeout(this.intervalTimer);
    this.intervalTimer = undefined;
    if (this.held.length === 0) return;
    const pieces = this.held;
    this.conn.sendFrame((seq) => encodeOutputFrame(seq, this.id, pieces));
    this.lastSent = performance.now();
    this.inFlight += this.heldBytes;
    this.held = [];
    this.heldBytes = 0;
  }

  /** Sends the output held; raw pieces go after every chunk already being compressed. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const written = this.writer.flush();
    if (this.pending.length === 0) return written;
    const chunks = this.pending;
    this.inFlight += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.checkFlow();
    return written.then(() => {
      this.sendHeld();
      this.conn.sendFrame((seq) => encodeOutputFrame(seq, this.id, chunks));
    });
  }

  /** At the command's end: everything, the unfinished lines as printed (the master ends them). */
  finish(): Promise<void> {
    for (const p of this.writer.takePartials()) {
      this.pending.push(p);
      this.pendingBytes += p.data.length;
    }
    return this.flush().then(() => this.sendHeld()).finally(() => this.writer.close());
  }

  /** Stops reading the pipes while a window of output is unacknowledged or being compressed. */
  private checkFlow(): void {
    const held = this.inFlight + this.writer.heldBytes + this.heldBytes + this.pendingBytes;
    if (!this.paused && held >= OUTPUT_WINDOW_BYTES) {
      this.paused = true;
      this.runner.pause();
    } else if (this.paused && held < OUTPUT_WINDOW_BYTES / 2) {
      this.paused = false;
      this.runner.resume();
    }
  }

  ack(bytes: number): void {
    this.inFlight = Math.max(0, this.inFlight - bytes);
    this.sendWhenDue();
    this.checkFlow();
  }
}

export class WorkerClient {
  private conn: Connection | undefined;
  private readonly sessions = new Map<string, CommandSession>();
  private stopped = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly url: string;
  private connectedResolvers: (() => void)[] = [];
  /** Set when the master refused us for good (bad secret, version): no point reconnecting. */
  fatal: Error | undefined;
  private fatalHandler: (err: Error) => void = () => {};

  constructor(private readonly options: WorkerOptions) {
    const url = new URL(options.masterUrl);
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/ws/worker';
    this.url = url.toString();
  }

  get connected(): boolean {
    return this.conn?.isOpen === true && this.welcomed;
  }

  private welcomed = false;
  private masterReadsLz4 = false;

  /** Called once if the master refuses this worker; the client then stops. */
  onFatal(handler: (err: Error) => void): void {
    this.fatalHandler = handler;
  }

  private runToken = '';

  /** Kills what a previous run on this basedir left running, then connects. */
  start(): void {
    const { token, killed } = startWorkerRun(this.options.basedir);
    this.runToken = token;
    if (killed > 0) this.options.log.warn(`killed ${killed} process(es) left running by a previous run of this worker`);
    this.connect();
  }

  /** Resolves when the worker is connected and welcomed (now or later). */
  whenConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((r) => this.connectedResolvers.push(r));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.conn?.close(1000, 'worker stopping');
    await this.killAll('worker stopping');
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.url, {
      maxPayload: MAX_FRAME_BYTES,
      // Masking guards browsers' connections against poisoning shared proxy caches; a worker is
      // no browser, and XOR-ing every byte of a log twice (here and on the master) cost a fifth
      // of the log path's CPU. ws skips both sides' work for an all-zero key.
      generateMask: (mask: Buffer) => void mask.fill(0),
    });
    const conn: Connection = new ProtocolConnection(webSocketTransport(ws), decodeMasterFrame, this.options.log, 'master');
    this.conn = conn;
    this.welcomed = false;
    ws.on('error', (err) => this.options.log.warn(`connection to ${this.url}: ${err.message}`));
    ws.on('open', () => {
      conn.send({
        type: 'hello', protocol: PROTOCOL_VERSION, name: this.options.name, secret: this.options.secret,
        info: this.options.info, ...(this.options.maxBuilds !== undefined ? { maxBuilds: this.options.maxBuilds } : {}),
      });
    });
    conn.onMessage((msg) => this.handle(conn, msg));
    conn.onClose((reason) => {
      this.welcomed = false;
      if (this.conn !== conn) return;
      // The master will requeue our builds; finishing their commands here would report to nobody.
      void this.killAll('connection to master lost');
      if (this.stopped || this.fatal) return;
      const base = this.options.minBackoffMs ?? 500;
      const delay = Math.min(this.options.maxBackoffMs ?? 30_000, base * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
      this.attempt++;
      this.options.log.info(`disconnected (${reason}); reconnecting in ${Math.round(delay)} ms`);
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }

  private handle(conn: Connection, msg: MasterMessage): void {
    switch (msg.type) {
      case 'welcome':
        this.welcomed = true;
        this.masterReadsLz4 = msg.lz4 === true;
        this.attempt = 0;
        this.options.log.info(`connected to master ${msg.master} at ${this.url}`);
        conn.startHeartbeat(msg.heartbeatMs, () => ({ type: 'heartbeat', time: Date.now() }));
        for (const r of this.connectedResolvers.splice(0)) r();
        return;
      case 'refused':
        this.fatal = new Error(`master refused this worker: ${msg.message} [${msg.code}]`);
        this.options.log.warn(this.fatal.message);
        this.stopped = true;
        conn.close(1000, 'refused');
        this.fatalHandler(this.fatal);
        return;
      case 'command.start':
        this.startCommand(conn, msg);
        return;
      case 'command.interrupt':
        this.sessions.get(msg.commandId)?.runner.kill('interrupted', `command interrupted: ${msg.reason}`);
        return;
      case 'output.ack':
        this.sessions.get(msg.commandId)?.ack(msg.bytes);
        return;
      case 'heartbeat':
        return;
      case 'error':
        this.options.log.warn(`master reported a protocol error: ${msg.message}`);
        return;
    }
  }

  private startCommand(conn: Connection, msg: CommandStartMessage): void {
    const basedir = resolve(this.options.basedir);
    const cwd = resolve(basedir, msg.workdir);
    const fail = (message: string) => conn.send({ type: 'command.finished', commandId: msg.commandId, exitCode: null, signal: null, reason: 'spawnFailed', message, durationMs: 0 });
    if (this.sessions.has(msg.commandId)) {
      conn.refuse(`command ${msg.commandId} is already running`, msg.seq);
      return;
    }
    if (cwd !== basedir && !cwd.startsWith(basedir + sep)) {
      fail(`workdir ${msg.workdir} is outside the worker's basedir`);
      return;
    }
    try {
      mkdirSync(cwd, { recursive: true });
    } catch (err) {
      fail(`cannot create workdir ${cwd}: ${(err as Error).message}`);
      return;
    }
    const session = new CommandSession(conn, msg.commandId, msg, cwd, this.runToken, join(basedir, '.keel-fifos'), this.masterReadsLz4 ? 'lz4' : 'deflate');
    this.sessions.set(msg.commandId, session);
    void session.runner.done.then((outcome) => {
      this.sessions.delete(msg.commandId);
      // The finish goes after the last output (compression may still be running) and after
      // the report files, which the master takes only while the command runs.
      void session.finish().catch(() => {}).then(() => {
        for (const report of msg.reports !== undefined ? collectReports(cwd, msg.reports) : []) {
          conn.send('data' in report
            ? { type: 'command.report', commandId: msg.commandId, path: report.path, data: report.data.toString('base64') }
            : { type: 'command.report', commandId: msg.commandId, path: report.path, skipped: report.skipped });
        }
        conn.send({ type: 'command.finished', commandId: msg.commandId, ...outcome });
      });
    });
  }

  private async killAll(reason: string): Promise<void> {
    const sessions = [...this.sessions.values()];
    for (const s of sessions) s.runner.kill('interrupted', reason);
    await Promise.all(sessions.map((s) => s.runner.done));
  }
}
