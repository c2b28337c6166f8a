// One side of a protocol connection over any message transport: numbers outgoing frames,
// validates incoming ones, refuses bad frames with an `error` reply, and runs the heartbeat.
import type { Decoded } from './messages.js';

/**
 * The transport under a connection: a WebSocket in production, a pair of in-memory ends in
 * tests. `send` may be called only while open; `bufferedAmount` lets senders apply back-pressure.
 */
export interface MessageTransport {
  /** A string goes as a text frame, a Buffer as a binary frame. */
  send(data: string | Buffer): void;
  close(code?: number, reason?: string): void;
  readonly bufferedAmount: number;
  onMessage(handler: (data: string | Buffer) => void): void;
  onClose(handler: (code: number, reason: string) => void): void;
}

export interface ConnectionLog {
  warn(message: string): void;
}

export class ProtocolConnection<In extends { type: string; seq: number }, Out extends { type: string }> {
  private nextSeq = 1;
  private lastHeard = Date.now();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private messageHandler: (message: In) => void = () => {};
  private closeHandler: (reason: string) => void = () => {};

  constructor(
    readonly transport: MessageTransport,
    private readonly decode: (data: string | Buffer) => Decoded<In>,
    private readonly log: ConnectionLog,
    private readonly peer: string,
  ) {
    transport.onMessage((text) => this.receive(text));
    transport.onClose((code, reason) => this.finish(`closed (${code}${reason ? ` ${reason}` : ''})`));
  }

  onMessage(handler: (message: In) => void): void {
    this.messageHandler = handler;
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandler = handler;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Sends a message; returns its seq, or undefined when the connection is already closed. */
  send(message: Out): number | undefined {
    return this.sendFrame((seq) => JSON.stringify({ ...message, seq }));
  }

  /** Sends a frame built for the next seq (binary output frames); same return as send. */
  sendFrame(build: (seq: number) => string | Buffer): number | undefined {
    if (this.closed) return undefined;
    const seq = this.nextSeq++;
    this.transport.send(build(seq));
    return seq;
  }

  /** Starts the heartbeat; the peer is declared dead after 3 intervals of silence. */
  startHeartbeat(intervalMs: number, heartbeat: () => Out): void {
    clearInterval(this.heartbeatTimer);
    this.lastHeard = Date.now();
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > 3 * intervalMs) {
        this.log.warn(`${this.peer}: no frame for ${Date.now() - this.lastHeard} ms; closing`);
        this.close(4000, 'heartbeat timeout');
        return;
      }
      this.send(heartbeat());
    }, intervalMs);
    this.heartbeatTimer.unref();
  }

  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    this.transport.close(code, reason);
    this.finish(reason || 'closed');
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    this.closeHandler(reason);
  }

  private receive(data: string | Buffer): void {
    this.lastHeard = Date.now();
    const decoded = this.decode(data);
    if (!decoded.ok) {
      this.log.warn(`${this.peer}: refused frame: ${decoded.error}`);
      this.refuse(decoded.error, decoded.seq);
      return;
    }
    this.messageHandler(decoded.message);
  }

  /** Answers a bad frame with `error`; the caller decides whether to close as well. */
  refuse(message: string, re?: number): void {
    this.send({ type: 'error', code: 'KEEL_ERR_PROTOCOL', message, ...(re !== undefined ? { re } : {}) } as unknown as Out);
  }
}
