// Line-indexed compressed log chunks: how a log is cut, compressed and read back. A chunk holds
// consecutive lines as plain text ("line\n" …), deflated as one, beside a short run-length list
// of which stream each line came from ("o650e2o10": 650 stdout lines, 2 stderr, 10 stdout).
// Keeping the text untouched means writing never rewrites it and the raw download is one inflate.
import { promisify } from 'node:util';
import { deflateRaw, inflateRawSync } from 'node:zlib';
import type { EncodedLogChunk, LogLine, LogStream } from './storage.js';

const deflateRawAsync = promisify(deflateRaw);

/** Raw bytes a chunk collects before it is compressed and written; bounds the read of one line. */
export const CHUNK_TARGET_BYTES = 128 * 1024;

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
export async function encodeLogChunk(firstLine: number, lineCount: number, bytes: Buffer, runs: readonly [LogStream, number][]): Promise<EncodedLogChunk> {
  const streams = formatRuns(runs);
  // Level 1: logs are written far more often than read, and level 1 already shrinks them 5-10x.
  const content = await deflateRawAsync(bytes, { level: 1 });
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

/** The chunk's lines as plain text, newlines included: exactly what the command printed. */
export function chunkText(content: Uint8Array): Buffer {
  return inflateRawSync(content);
}
