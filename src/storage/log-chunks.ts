// Line-indexed compressed log chunks: how a log is cut, compressed and read back. A chunk holds
// consecutive lines as plain text ("line\n" …), compressed as one, beside a short run-length
// list of which stream each line came from ("o650e2o10": 650 stdout lines, 2 stderr, 10 stdout).
// Keeping the text untouched means writing never rewrites it and the raw download decompresses
// each chunk once.
//
// Two codecs. LZ4 (lz4-napi) where it loads: about a fifth of deflate's CPU on the output of a
// fast command (100 MB of `yes`: 14 ms against 55-78 ms), which was most of what a worker spent
// on a big log. Deflate (zlib, level 1) where it does not, and for chunks stored before. An LZ4
// chunk starts with LZ4_MARK, a byte no raw deflate stream starts with (block type 3 is
// reserved), then lz4-napi's block (its length, then the LZ4 block): a chunk says what it is.
import { createRequire } from 'node:module';
import { constants, createDeflateRaw, inflateRawSync } from 'node:zlib';
import type { DeflateRaw } from 'node:zlib';
import { KeelError } from '../errors.js';
import { decodeLz4Block } from './lz4-block.js';
import type { EncodedLogChunk, LogLine, LogStream } from './storage.js';

/** BFINAL 1 and BTYPE 3 (reserved) in the first three bits: never a valid raw deflate stream. */
const LZ4_MARK = 0xff;
const LZ4_MARK_BYTES = Buffer.from([LZ4_MARK]);

interface Lz4 {
  compress(data: Buffer): Promise<Buffer>;
  compressSync(data: Buffer): Buffer;
  uncompressSync(data: Uint8Array): Buffer;
}

let lz4: Lz4 | null | undefined;

/** lz4-napi, or null where its native binary does not load (an unusual platform). */
function loadLz4(): Lz4 | null {
  if (lz4 !== undefined) return lz4;
  try {
    lz4 = createRequire(import.meta.url)('lz4-napi') as Lz4;
  } catch {
    lz4 = null;
  }
  return lz4;
}

/** Whether this process can read (and write) LZ4 chunks: a master tells its workers. */
export function canUseLz4(): boolean {
  return loadLz4() !== null;
}

/** A log's compressor: the chunks of one log, in order. */
export interface ChunkCompressor {
  compress(bytes: Buffer): Promise<Buffer>;
  close(): void;
}

/**
 * Output this repetitive (progress lines, `yes`, a loop's same message) compresses at 3-12 GB/s:
 * 0.08-0.3 ms a 1 MB chunk, less than lz4-napi's thread-pool call costs (it copies the input
 * on the main thread first, 0.075 ms a chunk, then wakes a pool thread): compressed inline, 100
 * MB of `yes` cost the worker 60-70 ms of CPU instead of 70-120. Less repetitive output (a
 * typical log shrinks 3-10 times) takes 1-5 ms a chunk and stays off the main thread.
 */
const INLINE_LZ4_RATIO = 32;

/** LZ4 when asked for and available here, else deflate. */
export function chunkCompressor(codec: 'lz4' | 'deflate'): ChunkCompressor {
  const l = codec === 'lz4' ? loadLz4() : null;
  if (!l) return new ChunkDeflater();
  let inline = false;
  return {
    // On the thread pool, like zlib, unless the log's last chunk shrank INLINE_LZ4_RATIO times or
    // more. Either way the bytes are not touched once the promise settles.
    compress: async (bytes) => {
      const body = inline ? l.compressSync(bytes) : await l.compress(bytes);
      inline = body.length * INLINE_LZ4_RATIO <= bytes.length;
      return Buffer.concat([LZ4_MARK_BYTES, body]);
    },
    close() {},
  };
}

/**
 * Memory the chunks read here and only here are decoded into, reused: their text is copied out
 * (as strings) before the next chunk. Fresh memory for each costs page faults (see lz4-block.ts):
 * the master reads the first chunk of every shell step to tell whether it is a test run.
 */
let scratch: Buffer | undefined;
let scratchInUse = false;
/** Bigger chunks than this (a worker's are about 1 MB) get memory of their own. */
const SCRATCH_MAX_BYTES = 4 * 1024 * 1024;

/** Runs `use` on the chunk's text in the scratch buffer (or fresh memory when it is taken or too small). */
function withChunkText<T>(content: Uint8Array, use: (raw: Buffer) => T): T {
  if (scratchInUse) return use(uncompressChunk(content));
  scratchInUse = true;
  try {
    return use(uncompressChunk(content, (size) => {
      if (size > SCRATCH_MAX_BYTES) return Buffer.allocUnsafe(size);
      if (!scratch || scratch.length < size) scratch = Buffer.allocUnsafeSlow(Math.max(size, CHUNK_TARGET_BYTES * 2));
      return scratch;
    }));
  } finally {
    scratchInUse = false;
  }
}

/** LZ4 never shrinks anything more than this (a match of 4 bytes and more costs one byte per 255). */
const LZ4_MAX_RATIO = 255;

/**
 * A chunk's bytes, whichever codec wrote them. `take` gives memory to decode into (at least
 * `size` bytes) where Keel decodes itself: a caller that reuses its buffers spares the process
 * fresh memory for every chunk.
 */
function uncompressChunk(content: Uint8Array, take?: (size: number) => Buffer): Buffer {
  if (content[0] !== LZ4_MARK) return inflateRawSync(content);
  // lz4-napi's block: the decoded size (4 bytes, little-endian), then the LZ4 block.
  const body = content.length - 5;
  const size = body < 0 ? -1 : (content[1]! | (content[2]! << 8) | (content[3]! << 16) | (content[4]! << 24)) >>> 0;
  if (size < 0 || size > (body + 1) * LZ4_MAX_RATIO) throw new KeelError('KEEL_ERR_STORAGE', 'a stored log chunk is corrupt (LZ4: bad size)');
  const l = loadLz4();
  // Repetitive output decodes faster here than through lz4-napi (lz4-block.ts), and anything
  // decodes here where lz4-napi does not load.
  if (l && size < body * INLINE_LZ4_RATIO) return l.uncompressSync(content.subarray(1));
  const out = take?.(size) ?? Buffer.allocUnsafe(size);
  if (decodeLz4Block(content, 5, out) !== size) throw new KeelError('KEEL_ERR_STORAGE', 'a stored log chunk is corrupt (LZ4: wrong size)');
  return out.length === size ? out : out.subarray(0, size);
}

/** A final, empty, fixed-Huffman block: ends a raw deflate stream after a flush. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

/**
 * Compresses one log's chunks, in order, through a single deflate stream on the thread pool.
 * Each chunk ends with a full flush, which resets the compressor so that the chunk inflates on
 * its own, then an empty final block: every chunk is a complete raw deflate stream, read back as
 * if it had been compressed alone. Setting zlib up zero-fills about 300 KB, which cost more than
 * compressing a 128 KB chunk of a typical log; once per log instead of once per chunk took most
 * of the compression's main-thread time away.
 */
export class ChunkDeflater implements ChunkCompressor {
  // Level 1: logs are written far more often than read, and level 1 already shrinks them 5-10x.
  private readonly stream: DeflateRaw = createDeflateRaw({ level: 1 });
  private parts: Buffer[] = [];
  private error: Error | undefined;

  constructor() {
    this.stream.on('data', (p: Buffer) => this.parts.push(p));
    this.stream.on('error', (err: Error) => (this.error = err));
  }

  compress(bytes: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.stream.write(bytes);
      // The flush's callback comes after this chunk's output and before the next one's: zlib
      // works on the next write only once this flush is done.
      this.stream.flush(constants.Z_FULL_FLUSH, () => {
        const out = Buffer.concat([...this.parts, FINAL_EMPTY_BLOCK]);
        this.parts = [];
        if (this.error) reject(this.error);
        else resolve(out);
      });
    });
  }

  close(): void {
    this.stream.close();
  }
}

/**
 * Raw bytes a chunk collects before it is compressed and written; bounds the read of one line
 * (inflating and splitting 1 MB takes 2-4 ms). Each chunk costs a row, a transaction and, from
 * a worker, a frame, a wake-up of each side and an ack: at 128 KB those per-chunk costs were
 * about a third of the CPU a big log took, and from 512 KB to 1 MB the master's CPU for a
 * 100 MB log went from 0.11-0.14 to 0.07-0.08 s (2 MB: 0.06 s, but 5-6 ms to read a line).
 */
export const CHUNK_TARGET_BYTES = 1024 * 1024;

/** Appends `count` lines of `stream` to a run list, merging with the last run when it matches. */
export function addRun(runs: [LogStream, number][], stream: LogStream, count: number): void {
  const last = runs[runs.length - 1];
  if (last && last[0] === stream) last[1] += count;
  else runs.push([stream, count]);
}

function formatRuns(runs: readonly [LogStream, number][]): string {
  return runs.map(([s, n]) => `${s}${n}`).join('');
}

function* parseRuns(streams: string): Generator<[LogStream, number]> {
  const re = /([oeh])(\d+)/g;
  for (let m = re.exec(streams); m; m = re.exec(streams)) yield [m[1] as LogStream, Number(m[2])];
}

/**
 * Compresses a chunk's bytes (whole lines, each ending in "\n"), on the thread pool unless the
 * compressor finds inlining cheaper (chunkCompressor): the caller keeps receiving output meanwhile.
 */
export async function encodeLogChunk(firstLine: number, lineCount: number, bytes: Buffer, runs: readonly [LogStream, number][], compressor: ChunkCompressor): Promise<EncodedLogChunk> {
  const streams = formatRuns(runs);
  const content = await compressor.compress(bytes);
  return { firstLine, lastLine: firstLine + lineCount - 1, content, rawBytes: bytes.length, streams };
}

export function decodeLogChunk(firstLine: number, content: Uint8Array, streams: string): LogLine[] {
  const raw = withChunkText(content, (text) => text.toString('utf8'));
  const out: LogLine[] = [];
  let start = 0;
  let n = firstLine;
  for (const [stream, count] of parseRuns(streams)) {
    for (let i = 0; i < count && start < raw.length; i++) {
      let end = raw.indexOf('\n', start);
      if (end < 0) end = raw.length;
      out.push({ n: n++, stream, text: raw.slice(start, end) });
      start = end + 1;
    }
  }
  return out;
}

/**
 * Hands a chunk's lines to `fn` one by one, without making a list of them, and stops as soon as
 * `fn` returns false: an observer that wants only a log's first lines (a shell step's, to see
 * whether it is a test run) no longer makes objects for the whole chunk.
 */
export function forEachLogLine(content: Uint8Array, streams: string, fn: (stream: LogStream, text: string) => boolean): void {
  // Each line is decoded from the bytes on its own: no string of the whole chunk, which every
  // line sliced from it (and kept by an observer) would keep alive.
  withChunkText(content, (raw) => {
    let start = 0;
    for (const [stream, count] of parseRuns(streams)) {
      for (let i = 0; i < count && start < raw.length; i++) {
        let end = raw.indexOf(10, start);
        if (end < 0) end = raw.length;
        if (!fn(stream, raw.toString('utf8', start, end))) return;
        start = end + 1;
      }
    }
  });
}

/**
 * The chunk's lines as plain text, newlines included: exactly what the command printed. `take`:
 * see uncompressChunk; the result may be a view of what it gave.
 */
export function chunkText(content: Uint8Array, take?: (size: number) => Buffer): Buffer {
  return uncompressChunk(content, take);
}
