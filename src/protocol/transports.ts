// The two transports a ProtocolConnection runs on: a `ws` WebSocket, and an in-memory pair for
// tests that want master and worker logic in one process.
import type WebSocket from 'ws';
import type { MessageTransport } from './connection.js';

export function webSocketTransport(ws: WebSocket): MessageTransport {
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    onMessage: (handler) => ws.on('message', (data, isBinary) => {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      handler(isBinary ? buffer : buffer.toString('utf8'));
    }),
    onClose: (handler) => ws.on('close', (code, reason) => handler(code, reason.toString())),
  };
}

/** Two connected ends; messages are delivered asynchronously, in order, like a socket. */
export function memoryTransportPair(): [MessageTransport, MessageTransport] {
  type End = { messages: ((t: string | Buffer) => void)[]; closes: ((c: number, r: string) => void)[]; closed: boolean };
  const a: End = { messages: [], closes: [], closed: false };
  const b: End = { messages: [], closes: [], closed: false };
  const make = (self: End, other: End): MessageTransport => ({
    send: (text) => {
      if (self.closed) throw new Error('transport closed');
      queueMicrotask(() => !other.closed && other.messages.forEach((h) => h(text)));
    },
    close: (code = 1000, reason = '') => {
      for (const end of [self, other]) {
        if (end.closed) continue;
        end.closed = true;
        queueMicrotask(() => end.closes.forEach((h) => h(code, reason)));
      }
    },
    bufferedAmount: 0,
    onMessage: (h) => void self.messages.push(h),
    onClose: (h) => void self.closes.push(h),
  });
  return [make(a, b), make(b, a)];
}
