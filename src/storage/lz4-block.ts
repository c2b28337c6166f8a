// Decodes an LZ4 block (the format lz4-napi writes after its 4-byte size) into a buffer the caller
// gives. For the repetitive chunks a fast command prints, decoding is a few long copies, and
// lz4-napi's own call costs far more than that: it decodes into a fresh allocation and Node then
// copies that into another, two megabytes of new memory per chunk. On the VMs measured, where
// first touching a page costs 11-16 µs, 100 such chunks took 317-348 ms through lz4-napi and
// 4-6 ms here into a reused buffer (100-120 ms into new ones). Chunks that shrank less are left to
// lz4-napi, which decodes their short matches faster than JavaScript (log-chunks.ts chooses).
import { KeelError } from '../errors.js';

function corrupt(what: string): KeelError {
  return new KeelError('KEEL_ERR_STORAGE', `a stored log chunk is corrupt (LZ4: ${what})`);
}

/**
 * Decodes the block in `src` from `start` into `dst`, which must be at least the decoded size;
 * returns the decoded length. Throws KEEL_ERR_STORAGE for a block that is not valid LZ4 or does
 * not fit `dst`, never reading or writing outside either.
 */
export function decodeLz4Block(src: Uint8Array, start: number, dst: Uint8Array): number {
  let i = start;
  let o = 0;
  const end = src.length;
  while (i < end) {
    const token = src[i++]!;
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (i >= end) throw corrupt('literal length runs past the end');
        b = src[i++]!;
        literals += b;
      } while (b === 255);
    }
    if (i + literals > end || o + literals > dst.length) throw corrupt('literals overrun');
    if (literals < 32) for (let k = 0; k < literals; k++) dst[o + k] = src[i + k]!;
    else dst.set(src.subarray(i, i + literals), o);
    i += literals;
    o += literals;
    // The last sequence is literals only.
    if (i === end) break;
    if (i + 2 > end) throw corrupt('match offset runs past the end');
    const offset = src[i]! | (src[i + 1]! << 8);
    i += 2;
    let length = token & 15;
    if (length === 15) {
      let b: number;
      do {
        if (i >= end) throw corrupt('match length runs past the end');
        b = src[i++]!;
        length += b;
      } while (b === 255);
    }
    length += 4;
    if (offset === 0 || offset > o) throw corrupt('match before the start');
    if (o + length > dst.length) throw corrupt('match overruns the output');
    const from = o - offset;
    if (length <= 32) {
      // Byte by byte, forwards: right for an overlapping match too (it reads what it just wrote).
      for (let k = 0; k < length; k++) dst[o + k] = dst[from + k]!;
    } else if (offset >= length) {
      dst.copyWithin(o, from, from + length);
    } else {
      // The match overlaps what it writes: a pattern of `offset` bytes repeated. Copy what is
      // already written, doubling each time, so no copy reads bytes it is itself writing.
      let copied = 0;
      while (copied < length) {
        const n = Math.min(length - copied, offset + copied);
        dst.copyWithin(o + copied, from, from + n);
        copied += n;
      }
    }
    o += length;
  }
  return o;
}
