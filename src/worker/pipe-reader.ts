// Reads one of a command's output FIFOs into a single reused buffer (net.Socket's `onread`), and,
// once the command pours output out, a millisecond's worth at a time instead of every write.
import { readSync } from 'node:fs';
import { Socket } from 'node:net';
import { setPipeCapacity } from './pipe-capacity.js';

/**
 * The pipe is read into one buffer of this size, reused for every read: at most what the worker
 * passes on in one piece (two of them stay within a batch, OUTPUT_BATCH_BYTES × 2). libuv reads
 * again at once while reads fill it, so a fuller pipe still empties in one wake-up.
 */
export const READ_BUFFER_BYTES = 128 * 1024;

/** Output a stream delivers before its pipe grows: most commands never print this much. */
const GROW_AFTER_BYTES = 1024 * 1024;
/** A millisecond of the fastest writers measured here (`yes | head`, about 1 GB/s). */
const BULK_PIPE_BYTES = 1024 * 1024;
/** Bytes one wake-up must bring before the next read waits: a writer pouring, not trickling. */
const WAIT_AFTER_BYTES = 4 * 1024;
const WAIT_MS = 1;

/**
 * A reader that keeps up with a fast writer wakes up for every piece it writes: 8,000-12,000
 * wake-ups per 100 MB from `yes | head` through a 64 KB pipe, which made reading cost the worker
 * 75-90 ms of CPU per 100 MB. So once a stream has printed a megabyte, its pipe grows to 1 MB
 * and, while the wake-ups bring 4 KB or more, the reader waits a millisecond after emptying it:
 * about 900 reads (300 wake-ups) per 100 MB and 25-45 ms of CPU, and the writer blocks less
 * too. A command that prints a line now and then is read at once, as before; the wait is never
 * more than 1 ms.
 *
 * The readers of one command know each other: around each read, what its siblings' pipes hold
 * is passed on at once (before this read's bytes if the sibling is waiting, after if not), not
 * when the event loop comes to them (libuv first reads up to 32 buffers of the same pipe), so a
 * stderr line lands within a read buffer of the stdout lines printed about when it was, or a
 * pipe's worth when the worker was too busy to read. Only siblings that have printed anything
 * are asked (an empty pipe costs a failed read, 5 µs).
 */
export class PipeReader {
  private readonly socket: Socket;
  private delivered = 0;
  private printed = false;
  /** Bytes read since the pipe was last found empty. */
  private burst = 0;
  private bigPipe = false;
  /** Paused by the caller (flow control), whatever the waiting does. */
  private held = false;
  private waiting: NodeJS.Timeout | undefined;
  private readonly buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  /** `siblings`: the readers of the same command, this one included once constructed. */
  constructor(private readonly fd: number, private readonly onData: (data: Buffer) => void, onClose: () => void, private readonly siblings: readonly PipeReader[]) {
    const buffer = this.buffer;
    this.socket = new Socket({
      fd, readable: true, writable: false,
      onread: {
        buffer,
        callback: (n: number) => {
          // A sibling in its wait holds output printed before this read; the others, output
          // printed while it was read.
          for (const s of this.siblings) if (s !== this && s.waiting) s.drainNow();
          onData(buffer.subarray(0, n));
          for (const s of this.siblings) if (s !== this) s.drainNow();
          this.afterRead(n);
        },
      },
    } as ConstructorParameters<typeof Socket>[0]);
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      clearTimeout(this.waiting);
      onClose();
    });
  }

  pause(): void {
    this.held = true;
    this.socket.pause();
  }

  resume(): void {
    this.held = false;
    if (!this.waiting) this.socket.resume();
  }

  /** Passes on what the pipe holds now, unless it never printed or the caller holds it. */
  private drainNow(): void {
    // Once destroyed, its fd is closed (in the same tick) and the number may be another file's.
    if (!this.printed || this.held || this.socket.destroyed) return;
    for (;;) {
      let n: number;
      try {
        // Non-blocking, and this thread is libuv's: the socket's own next read just finds less.
        n = readSync(this.fd, this.buffer, 0, this.buffer.length, null);
      } catch {
        return; // EAGAIN: empty; any other error the socket meets itself.
      }
      if (n === 0) return; // the end: the socket sees it when it resumes
      this.onData(this.buffer.subarray(0, n));
      if (n < this.buffer.length) return;
    }
  }

  private afterRead(n: number): void {
    this.printed = true;
    this.burst += n;
    // A full buffer: libuv reads on at once, the pipe is not empty yet.
    if (n === READ_BUFFER_BYTES) return;
    const burst = this.burst;
    this.burst = 0;
    if (!this.bigPipe) {
      this.delivered += burst;
      if (this.delivered < GROW_AFTER_BYTES) return;
      // Tried once: where it fails the pipe stays as it is and reading stays eager.
      this.delivered = -Infinity;
      this.bigPipe = (setPipeCapacity(this.fd, BULK_PIPE_BYTES) ?? 0) >= BULK_PIPE_BYTES;
      if (!this.bigPipe) return;
    }
    if (burst < WAIT_AFTER_BYTES || this.waiting) return;
    this.socket.pause();
    this.waiting = setTimeout(() => {
      this.waiting = undefined;
      if (!this.held) this.socket.resume();
    }, WAIT_MS);
  }
}
