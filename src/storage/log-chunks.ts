// Line-indexed compressed log chunks: how a log is cut, compressed and read back. A chunk holds
// consecutive lines, each stored as its one-letter stream tag, its text and "\n", deflated as one.
import { promisify } from 'node:util';
import { deflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { EncodedLogChunk, LogLine, LogStream } from './storage.js';

const deflateRawAsync = promisify(deflateRaw);

/** Raw bytes a chunk collects before it is compressed and written; bounds the read of one line. */
export const CHUNK_TARGET_BYTES = 64 * 1024;

export function encodeLogChunk(firstLine: number, lines: readonly { stream: LogStream; text: string }[]): EncodedLogChunk {
  let raw = '';
  for (const line of lines) raw += line.stream + line.text + '\n';
  const bytes = Buffer.from(raw, 'utf8');
  // Level 1: logs are written far more often than read, and level 1 already shrinks them 5-10x.
  return { firstLine, lastLine: firstLine + lines.length - 1, content: deflateRawSync(bytes, { level: 1 }), rawBytes: bytes.length };
}

function inflate(content: Uint8Array): string {
  return inflateRawSync(content).toString('utf8');
}

export function decodeLogChunk(firstLine: number, content: Uint8Array): LogLine[] {
  const raw = inflate(content);
  const out: LogLine[] = [];
  let start = 0;
  let n = firstLine;
  while (start < raw.length) {
    const end = raw.indexOf('\n', start);
    out.push({ n: n++, stream: raw[start] as LogStream, text: raw.slice(start + 1, end) });
    start = end + 1;
  }
  return out;
}

/** The chunk's lines as plain text: the tags dropped, the newlines kept. */
export function chunkText(content: Uint8Array): Buffer {
  const raw = inflateRawSync(content);
  // Drop the first byte of every line (the tag); tags are ASCII so byte offsets are safe.
  const out = Buffer.allocUnsafe(raw.length);
  let w = 0;
  let start = 0;
  while (start < raw.length) {
    let end = raw.indexOf(10, start);
    if (end < 0) end = raw.length - 1;
    w += raw.copy(out, w, start + 1, end + 1);
    start = end + 1;
  }
  return out.subarray(0, w);
}

/**
 * Compresses already-tagged text (every line is its tag, its text and "\n") off the main thread:
 * the caller can keep receiving output while zlib works on the thread pool.
 */
export async function encodeTaggedChunk(firstLine: number, lineCount: number, tagged: string): Promise<EncodedLogChunk> {
  const bytes = Buffer.from(tagged, 'utf8');
  const content = await deflateRawAsync(bytes, { level: 1 });
  return { firstLine, lastLine: firstLine + lineCount - 1, content, rawBytes: bytes.length };
}
