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

/**
 * Two connected ends; messages are delivered asynchronously, in order, like a socket: what was
 * sent before a close still arrives, then both ends hear the close.
 */
export function memoryTransportPair(): [MessageTransport, MessageTransport] {
  type End = { messages: ((d: string | Buffer) => void)[]; closes: ((c: number, r: string) => void)[]; sending: boolean; open: boolean };
  const a: End = { messages: [], closes: [], sending: true, open: true };
  const b: End = { messages: [], closes: [], sending: true, open: true };
  const make = (self: End, other: End): MessageTransport => ({
    send: (data) => {
      // Like a WebSocket that is closing: what is sent now is dropped, not thrown.
      if (!self.sending) return;
      queueMicrotask(() => other.open && other.messages.forEach((h) => h(data)));
    },
    close: (code = 1000, reason = '') => {
      self.sending = false;
      other.sending = false;
      // Queued after every send so far: those are delivered first.
      queueMicrotask(() => {
        for (const end of [self, other]) {
          if (!end.open) continue;
          end.open = false;
          end.closes.forEach((h) => h(code, reason));
        }
      });
    },
    bufferedAmount: 0,
    onMessage: (h) => void self.messages.push(h),
    onClose: (h) => void self.closes.push(h),
  });
  return [make(a, b), make(b, a)];
}
