// Turns a stream of output (arbitrary pieces of bytes, tagged by stream) into whole lines and
// writes them as compressed chunks. One writer per log; it holds at most about one chunk.
// Output is handled a piece at a time as bytes, never line by line or as strings, because a
// 100 MB log is a million lines; the bytes are stored exactly as the command printed them.
import { addRun, canUseLz4, chunkCompressor, CHUNK_TARGET_BYTES, encodeLogChunk, forEachLogLine } from './log-chunks.js';
import type { ChunkCompressor } from './log-chunks.js';
import { scanLines } from './line-scan.js';
import type { EncodedLogChunk, LogStream, Storage } from './storage.js';

/** Where a writer's chunks go: the database on the master, the connection on a worker. */
export type LogChunkSink = Pick<Storage, 'appendLogChunks' | 'finishLog'>;

/** A chunk compressed elsewhere (by the worker): whole lines, compressed, and their streams. */
export interface PrecompressedChunk {
  lines: number;
  streams: string;
  rawBytes: number;
  data: Uint8Array;
}

const STREAMS: readonly LogStream[] = ['o', 'e', 'h'];
/** A chunk buffer (transientInput): a chunk's target plus the largest piece a worker appends. */
const CHUNK_BUFFER_BYTES = CHUNK_TARGET_BYTES + 256 * 1024;
/**
 * Free chunk buffers, kept for the process's writers: one filling and one compressing is a
 * pouring log's steady state, and a worker may run a few. Shared rather than per writer, so a
 * step does not start on fresh memory: each new page costs a fault when first written, 11-16 µs
 * on the VMs measured (a 100 MB step took two or three new buffers, ~900 faults).
 */
const SPARE_CHUNK_BUFFERS = 4;
const spareChunkBuffers: Buffer[] = [];
const NL = 10;
const CR = 13;

/** Drops carriage returns that end lines ("\r\n", progress bars' "\r\r\n"). */
function dropLineEndCRs(body: Buffer): Buffer {
  if (!body.includes(CR)) return body;
  return Buffer.from(body.toString('latin1').replace(/\r+(?=\n|$)/g, ''), 'latin1');
}

export class LogWriter {
  /** Whole lines not yet written, each piece ending in "\n", and their streams. */
  private pieces: Buffer[] = [];
  private runs: [LogStream, number][] = [];
  private pendingLines = 0;
  private bufferedBytes = 0;
  private nextLine: number;
  /** The unfinished last line of each stream: stdout and stderr interleave by whole lines. */
  private partial: Record<LogStream, Buffer[]> = { o: [], e: [], h: [] };
  private writing: Promise<void> = Promise.resolve();
  /**
   * Precompressed chunks waiting for the write at the end of `writing`: those that come while
   * the one before is stored go in one transaction. Closed once something else is chained.
   */
  private openBatch: EncodedLogChunk[] | undefined;
  /** Bytes handed to compression and not yet given to the sink. */
  private queued = 0;
  private compressor: ChunkCompressor | undefined;
  private delayTimer: NodeJS.Timeout | undefined;
  /** How chunks written here are compressed (log-chunks.ts); a worker uses what its master reads. */
  codec: 'lz4' | 'deflate' = canUseLz4() ? 'lz4' : 'deflate';
  /** Longest a whole line waits in memory before it is written, so live readers see it. */
  maxDelayMs = 200;
  /**
   * Set when append()'s bytes are valid only during the call (the worker reads each pipe into one
   * reused buffer): whole lines are then copied into a chunk buffer that is reused once the chunk
   * is compressed, and unfinished lines are copied aside. Without it, appended bytes are kept as
   * they are until their chunk is written.
   */
  transientInput = false;
  /** The chunk being filled, when transientInput: `bufferedBytes` of it are used. */
  private chunk: Buffer | undefined;

  /**
   * `onLine` sees every whole line as it is formed: the seam for line-based observers (build
   * properties from output now, test-result parsers later) that must not hold the log. Without
   * one, lines are never split apart or decoded. It returns false when it wants no more lines:
   * from then on the writer works as if it had none.
   */
  constructor(private readonly storage: LogChunkSink, readonly logId: number, firstLine = 0, private onLine?: (stream: LogStream, text: string) => unknown) {
    this.nextLine = firstLine;
  }

  get linesWritten(): number {
    return this.nextLine + this.pendingLines;
  }

  /** Bytes held: whole lines not yet written or being compressed (not the unfinished lines). */
  get heldBytes(): number {
    return this.queued + this.bufferedBytes;
  }

  /** Bytes of the unfinished last lines, all streams together. */
  get partialBytes(): number {
    let n = 0;
    for (const s of STREAMS) for (const p of this.partial[s]) n += p.length;
    return n;
  }

  /** Removes and returns the unfinished last lines, so a caller can pass them on as they are. */
  takePartials(): { stream: LogStream; data: Buffer }[] {
    const out: { stream: LogStream; data: Buffer }[] = [];
    for (const stream of STREAMS) {
      // Piece by piece, as they came: no copy, and no piece bigger than what was appended.
      for (const data of this.partial[stream]) out.push({ stream, data });
      this.partial[stream] = [];
    }
    return out;
  }

  /**
   * Adds a chunk the worker has already cut and compressed: written as it is, after the whole
   * lines held here, so the master never touches the bytes (it inflates them only for `onLine`).
   */
  appendEncoded(chunk: PrecompressedChunk): Promise<void> {
    void this.flush();
    if (this.onLine) {
      forEachLogLine(chunk.data, chunk.streams, (stream, text) => {
        this.observe(stream, text);
        return this.onLine !== undefined;
      });
    }
    const encoded = { firstLine: this.nextLine, lastLine: this.nextLine + chunk.lines - 1, content: chunk.data, rawBytes: chunk.rawBytes, streams: chunk.streams };
    this.nextLine += chunk.lines;
    if (this.openBatch) {
      this.openBatch.push(encoded);
      return this.writing;
    }
    const batch = [encoded];
    this.openBatch = batch;
    this.writing = this.writing.then(() => {
      if (this.openBatch === batch) this.openBatch = undefined;
      return this.storage.appendLogChunks(this.logId, batch);
    });
    return this.writing;
  }

  /**
   * Adds output. Resolves once the chunks written so far are in the database, so a caller that
   * awaits it (before asking the worker for more) keeps memory bounded.
   */
  append(stream: LogStream, data: Buffer | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const lastNl = bytes.lastIndexOf(NL);
    if (lastNl < 0) {
      if (bytes.length > 0) this.partial[stream].push(this.transientInput ? Buffer.from(bytes) : bytes);
      return this.writing;
    }
    const head = bytes.subarray(0, lastNl + 1);
    const partial = this.partial[stream];
    const rest = bytes.subarray(lastNl + 1);
    this.partial[stream] = rest.length > 0 ? [this.transientInput ? Buffer.from(rest) : rest] : [];
    this.addLines(stream, partial.length > 0 ? [...partial, head] : [head]);
    if (this.bufferedBytes >= CHUNK_TARGET_BYTES) return this.flush();
    if (!this.delayTimer) {
      this.delayTimer = setTimeout(() => {
        this.delayTimer = undefined;
        // A failed write surfaces at the next append, flush or finish, which return `writing`.
        void this.flush().catch(() => {});
      }, this.maxDelayMs);
    }
    return this.writing;
  }

  /** `parts` joined are one or more whole lines, each ending in "\n"; only the last has newlines. */
  private addLines(stream: LogStream, parts: Buffer[]): void {
    // The common case (no carriage returns, no observer) keeps the parts as they are: views into
    // the pipe reads or the protocol frames, copied once, into the chunk. (Handing the parts to
    // zlib one by one instead made each a thread-pool round trip: a Python loop's 8 KB writes
    // took (b') from 1.7x to 2.8-3.1x.)
    // Only the last part has newlines; the others are the pieces of an unfinished line.
    const scan = scanLines(parts[parts.length - 1]!);
    const count = scan.newlines;
    if (this.onLine || scan.carriageReturn || parts.some((p, i) => i < parts.length - 1 && p.includes(CR))) {
      parts = [dropLineEndCRs(parts.length === 1 ? parts[0]! : Buffer.concat(parts))];
    }
    const last = parts[parts.length - 1]!;
    if (this.onLine) {
      const lines = last.toString('utf8').split('\n');
      lines.pop();
      for (const line of lines) this.observe(stream, line);
    }
    if (this.transientInput) this.copyIn(parts);
    else {
      for (const p of parts) {
        this.pieces.push(p);
        this.bufferedBytes += p.length;
      }
    }
    addRun(this.runs, stream, count);
    this.pendingLines += count;
  }

  /** Copies whole lines into the chunk buffer (transientInput), a bigger one when they do not fit. */
  private copyIn(parts: Buffer[]): void {
    let size = this.bufferedBytes;
    for (const p of parts) size += p.length;
    if (!this.chunk || size > this.chunk.length) {
      const bigger = size <= CHUNK_BUFFER_BYTES ? spareChunkBuffers.pop() ?? Buffer.allocUnsafe(CHUNK_BUFFER_BYTES) : Buffer.allocUnsafe(size);
      if (this.chunk) this.chunk.copy(bigger, 0, 0, this.bufferedBytes);
      this.chunk = bigger;
    }
    for (const p of parts) this.bufferedBytes += p.copy(this.chunk, this.bufferedBytes);
  }

  private observe(stream: LogStream, text: string): void {
    if (this.onLine?.(stream, text) === false) this.onLine = undefined;
  }

  /** Writes the whole lines held so far. */
  flush(): Promise<void> {
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    if (this.pendingLines > 0) {
      // Compression starts now, on the thread pool; the database write waits for the one before.
      const bytes = this.bufferedBytes;
      const buffer = this.chunk;
      this.chunk = undefined;
      const chunk = encodeLogChunk(this.nextLine, this.pendingLines, buffer ? buffer.subarray(0, bytes) : Buffer.concat(this.pieces, bytes), this.runs, this.compressor ??= chunkCompressor(this.codec));
      // Once the chunk is compressed its bytes are free: the buffer is filled again.
      if (buffer?.length === CHUNK_BUFFER_BYTES) {
        const reuse = () => void (spareChunkBuffers.length < SPARE_CHUNK_BUFFERS && spareChunkBuffers.push(buffer));
        chunk.then(reuse, reuse);
      }
      this.queued += bytes;
      this.nextLine += this.pendingLines;
      this.pieces = [];
      this.runs = [];
      this.pendingLines = 0;
      this.bufferedBytes = 0;
      this.openBatch = undefined;
      this.writing = Promise.all([this.writing, chunk]).then(([, c]) => {
        this.queued -= bytes;
        return this.storage.appendLogChunks(this.logId, [c]);
      });
    }
    return this.writing;
  }

  /** Ends the unfinished lines, writes everything and marks the log finished. */
  async finish(): Promise<void> {
    for (const stream of STREAMS) {
      if (this.partial[stream].length > 0) this.addLines(stream, [...this.partial[stream], Buffer.from('\n')]);
      this.partial[stream] = [];
    }
    try {
      await this.flush();
    } finally {
      this.close();
    }
    await this.storage.finishLog(this.logId);
  }

  /** Frees the compressor once everything is written; for a writer that is never finished. */
  close(): void {
    this.compressor?.close();
    this.compressor = undefined;
  }
}
