// The LZ4 block decoder against lz4-napi's encoder: repetitive output (long overlapping matches),
// ordinary log text, incompressible bytes, long literal runs; and corrupt blocks refused without
// reading or writing out of bounds.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { chunkText, decodeLogChunk, forEachLogLine } from '../../src/storage/log-chunks.js';
import { decodeLz4Block } from '../../src/storage/lz4-block.js';

const lz4 = createRequire(import.meta.url)('lz4-napi') as { compressSync(b: Buffer): Buffer };

/** lz4-napi's output: the decoded size (4 bytes), then the block. */
function roundTrip(data: Buffer): Buffer {
  const encoded = lz4.compressSync(data);
  const out = Buffer.alloc(encoded.readUInt32LE(0));
  assert.equal(decodeLz4Block(encoded, 4, out), data.length);
  return out;
}

describe('decodeLz4Block', () => {
  it('decodes what lz4-napi encodes, whatever its shape', () => {
    let log = '';
    for (let i = 0; log.length < 300_000; i++) log += `${i % 50 === 0 ? 'FAILED' : 'ok'} test_${i % 313}.py::case_${(i * 7) % 1000} in ${(i * 0.37) % 9}s\n`;
    const cases: [string, Buffer][] = [
      ['yes output', Buffer.from(`${'0'.repeat(99)}\n`.repeat(10_486))],
      ['one byte repeated (offset 1)', Buffer.alloc(70_000, 0x78)],
      ['a short period (offset 3)', Buffer.from('ab\n'.repeat(40_000))],
      ['log text', Buffer.from(log)],
      ['incompressible', randomBytes(200_000)],
      ['hex: long literal runs', Buffer.from(randomBytes(50_000).toString('hex'))],
      ['tiny', Buffer.from('x\n')],
      ['empty', Buffer.alloc(0)],
    ];
    for (const [name, data] of cases) assert.ok(roundTrip(data).equals(data), name);
  });

  it('refuses corrupt blocks with KEEL_ERR_STORAGE', () => {
    const good = lz4.compressSync(Buffer.from('abcabcabcabc-abcabcabcabc\n'.repeat(100)));
    const block = good.subarray(4);
    const out = Buffer.alloc(good.readUInt32LE(0));
    const corrupt = (bytes: Uint8Array, into = out) => assert.throws(() => decodeLz4Block(bytes, 0, into), { code: 'KEEL_ERR_STORAGE' });
    corrupt(block.subarray(0, block.length - 3));
    corrupt(block, Buffer.alloc(out.length - 1));
    // A match reaching back before the start of the output.
    corrupt(Buffer.from([0x10, 0x61, 0x05, 0x00]));
    corrupt(Buffer.from([0x10, 0x61, 0x00, 0x00]));
    // Lengths that run off the end.
    corrupt(Buffer.from([0xf0, 0xff, 0xff]));
    corrupt(Buffer.from([0x1f, 0x61, 0x01, 0x00, 0xff]));
  });

  it('reads one repetitive chunk line by line while another is decoded inside the callback', () => {
    const chunkOf = (text: string) => Buffer.concat([Buffer.from([0xff]), lz4.compressSync(Buffer.from(text))]);
    const a = chunkOf('a'.repeat(99) + '\n'.repeat(1) + `${'a'.repeat(99)}\n`.repeat(2000));
    const b = chunkOf(`${'b'.repeat(99)}\n`.repeat(3000));
    const seen: string[] = [];
    forEachLogLine(a, 'o2001', (_stream, text) => {
      // The inner read must not overwrite the memory the outer one is reading from.
      if (seen.length === 1000) assert.equal(decodeLogChunk(0, b, 'o3000').length, 3000);
      seen.push(text);
      return true;
    });
    assert.equal(seen.length, 2001);
    assert.ok(seen.every((t) => t === 'a'.repeat(99)));
    assert.ok(decodeLogChunk(0, b, 'o3000').every((l) => l.text === 'b'.repeat(99)));
  });

  it('is what chunkText uses for a repetitive chunk, and a corrupt size is refused', () => {
    const text = Buffer.from(`${'0'.repeat(99)}\n`.repeat(10_486));
    const chunk = Buffer.concat([Buffer.from([0xff]), lz4.compressSync(text)]);
    assert.ok(chunkText(chunk).equals(text));
    const lying = Buffer.from(chunk);
    lying.writeUInt32LE(0xffffffff, 1);
    assert.throws(() => chunkText(lying), { code: 'KEEL_ERR_STORAGE' });
  });
});
