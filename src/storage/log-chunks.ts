// Line-indexed compressed log chunks: how a log is cut, compressed and read back. A chunk holds
// consecutive lines as plain text ("line\n" …), deflated as one, beside a short run-length list
// of which stream each line came from ("o650e2o10": 650 stdout lines, 2 stderr, 10 stdout).
// Keeping the text untouched means writing never rewrites it and the raw download is one inflate.
import { constants, createDeflateRaw, inflateRawSync } from 'node:zlib';
import type { DeflateRaw } from 'node:zlib';
import type { EncodedLogChunk, LogLine, LogStream } from './storage.js';

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
export class ChunkDeflater {
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
 * Compresses a chunk's bytes (whole lines, each ending in "\n") off the main thread: the caller
 * keeps receiving output while zlib works on the thread pool.
 */
export async function encodeLogChunk(firstLine: number, lineCount: number, bytes: Buffer, runs: readonly [LogStream, number][], deflater: ChunkDeflater): Promise<EncodedLogChunk> {
  const streams = formatRuns(runs);
  const content = await deflater.compress(bytes);
  return { firstLine, lastLine: firstLine + lineCount - 1, content, rawBytes: bytes.length, streams };
}

export function decodeLogChunk(firstLine: number, content: Uint8Array, streams: string): LogLine[] {
  const raw = inflateRawSync(content).toString('utf8');
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
  const raw = inflateRawSync(content);
  let start = 0;
  for (const [stream, count] of parseRuns(streams)) {
    for (let i = 0; i < count && start < raw.length; i++) {
      let end = raw.indexOf(10, start);
      if (end < 0) end = raw.length;
      if (!fn(stream, raw.toString('utf8', start, end))) return;
      start = end + 1;
    }
  }
}

/** The chunk's lines as plain text, newlines included: exactly what the command printed. */
export function chunkText(content: Uint8Array): Buffer {
  return inflateRawSync(content);
}
