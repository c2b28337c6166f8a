// Sends a log's text as an HTTP response body, chunk by chunk, decoding each chunk into memory the
// socket has already written out. A 100 MB log is a hundred 1 MB chunks: decoded into fresh
// buffers, every page of them is new memory, and first touching a page costs a fault (11-16 µs
// on the VMs measured: 0.3-0.4 s for the hundred). A download needs two or three buffers.
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';

/** Buffers kept for reuse by one download: one being written, one being decoded, one spare. */
const KEPT_BUFFERS = 3;
/** Sizes are rounded up to this, so chunks of slightly different sizes share buffers. */
const SIZE_STEP = 256 * 1024;

/**
 * Writes what `pieces` yields to `res`, waiting for the socket when it is full, and ends it.
 * `pieces` gets `take`, which gives memory to decode into. If the pieces fail half-way the
 * response is destroyed: the client sees a cut transfer rather than a short log that looks whole.
 */
export async function sendLogText(res: ServerResponse, pieces: (take: (size: number) => Buffer) => AsyncIterable<Buffer>): Promise<void> {
  const free: Buffer[] = [];
  /** The buffers handed out, by their memory: a piece may be a view of one. */
  const mine = new WeakMap<ArrayBufferLike, Buffer>();
  const take = (size: number): Buffer => {
    const i = free.findIndex((b) => b.length >= size);
    if (i >= 0) return free.splice(i, 1)[0]!;
    // Slow: a buffer of its own memory (allocUnsafe's small ones share a pool), so it can be told by it.
    const b = Buffer.allocUnsafeSlow(Math.ceil(Math.max(size, 1) / SIZE_STEP) * SIZE_STEP);
    mine.set(b.buffer, b);
    return b;
  };
  try {
    for await (const piece of pieces(take)) {
      if (res.destroyed) return;
      // Its memory is free again once the socket has it (or the write failed).
      const written = res.write(piece, () => {
        const b = mine.get(piece.buffer);
        if (b && free.length < KEPT_BUFFERS) free.push(b);
      });
      if (!written) await drainedOrClosed(res);
    }
    res.end();
  } catch (err) {
    res.destroy(err as Error);
  }
}

/** Waits for the socket to take more, or for the client to go; leaves no listener behind. */
async function drainedOrClosed(res: ServerResponse): Promise<void> {
  const done = new AbortController();
  try {
    // The loser rejects with an AbortError once aborted; the race has handled it.
    await Promise.race([once(res, 'drain', { signal: done.signal }), once(res, 'close', { signal: done.signal })]);
  } finally {
    done.abort();
  }
}
