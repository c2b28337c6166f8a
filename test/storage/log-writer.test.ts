// The log writer against an in-memory sink: chunks compressed through one deflate stream read
// back alone, chunks compressed by a worker written after the lines held, observers that retire.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { chunkCompressor, ChunkDeflater, CHUNK_TARGET_BYTES, decodeLogChunk, chunkText } from '../../src/storage/log-chunks.js';
import { LogWriter } from '../../src/storage/log-writer.js';
import type { EncodedLogChunk } from '../../src/storage/storage.js';

function memorySink(): { chunks: EncodedLogChunk[]; appendLogChunks: (id: number, cs: readonly EncodedLogChunk[]) => Promise<void>; finishLog: () => Promise<void> } {
  const chunks: EncodedLogChunk[] = [];
  return { chunks, appendLogChunks: async (_id, cs) => void chunks.push(...cs), finishLog: async () => {} };
}

/** Appends `all` through one read buffer, overwritten after every append, as the worker's pipe reads are. */
async function appendThroughOneBuffer(writer: LogWriter, all: Buffer, readBytes: number): Promise<void> {
  const read = Buffer.alloc(readBytes);
  for (let at = 0; at < all.length; at += read.length) {
    const n = all.copy(read, 0, at, at + read.length);
    const p = writer.append('o', read.subarray(0, n));
    read.fill(0x21);
    await p;
  }
}

describe('LogWriter', () => {
  it('compresses chunks through one stream, each chunk inflating on its own', async () => {
    const deflater = new ChunkDeflater();
    const texts = ['first\n', 'x'.repeat(300_000) + '\n', 'third line\n'];
    const out = await Promise.all(texts.map((t) => deflater.compress(Buffer.from(t))));
    deflater.close();
    assert.deepEqual(out.map((c) => chunkText(c).toString()), texts);
  });

  it('writes LZ4 or deflate chunks as told, and reads both back alike', async () => {
    const text = Array.from({ length: 50_000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const decoded: string[] = [];
    for (const codec of ['lz4', 'deflate'] as const) {
      const sink = memorySink();
      const writer = new LogWriter(sink, 1);
      writer.codec = codec;
      await writer.append('o', text);
      await writer.finish();
      assert.ok(sink.chunks.length > 0);
      // LZ4 chunks say so in their first byte, which starts no raw deflate stream.
      assert.ok(sink.chunks.every((c) => (c.content[0] === 0xff) === (codec === 'lz4')), codec);
      assert.ok(sink.chunks.every((c) => c.content.length < c.rawBytes / 2), `${codec} compresses`);
      decoded.push(sink.chunks.map((c) => decodeLogChunk(c.firstLine, c.content, c.streams).map((l) => `${l.text}\n`).join('')).join(''));
      assert.equal(sink.chunks.map((c) => chunkText(c.content).toString()).join(''), text);
    }
    assert.deepEqual(decoded, [text, text]);
  });

  it('compresses LZ4 inline after a chunk that shrank 32 times or more, on the thread pool otherwise', async () => {
    const compressor = chunkCompressor('lz4');
    const repetitive = Buffer.from('0123456789\n'.repeat(100_000));
    const random = Buffer.from(randomBytes(300_000).toString('hex').replace(/(.{64})/g, '$1\n'));
    // Work on the thread pool cannot finish before the event loop turns; inline work finishes
    // within a few microtasks.
    async function compress(bytes: Buffer): Promise<{ inline: boolean; text: string }> {
      let done = false;
      const chunk = compressor.compress(bytes).then((c) => ((done = true), c));
      for (let i = 0; i < 5; i++) await null;
      const inline = done;
      return { inline, text: chunkText(await chunk).toString() };
    }
    const inputs = [repetitive, repetitive, random, random, repetitive];
    const seen: { inline: boolean; text: string }[] = [];
    for (const bytes of inputs) seen.push(await compress(bytes));
    compressor.close();
    // The first has no chunk before it; a random one is compressed inline after a repetitive one.
    assert.deepEqual(seen.map((s) => s.inline), [false, true, true, false, false]);
    assert.deepEqual(seen.map((s) => s.text), inputs.map((b) => b.toString()));
  });

  it('writes chunks made elsewhere after the lines it holds, numbering on', async () => {
    const sink = memorySink();
    const writer = new LogWriter(sink, 1);
    await writer.append('h', 'sh -c build\n');
    const made = memorySink();
    const cutter = new LogWriter(made, 0);
    await cutter.append('o', 'a\nb\n');
    await cutter.append('e', 'c\n');
    await cutter.finish();
    const c = made.chunks[0]!;
    await writer.appendEncoded({ lines: c.lastLine - c.firstLine + 1, streams: c.streams, rawBytes: c.rawBytes, data: Buffer.from(c.content) });
    await writer.append('h', 'done\n');
    await writer.finish();
    assert.deepEqual(sink.chunks.map((k) => [k.firstLine, k.lastLine, k.streams]), [[0, 0, 'h1'], [1, 3, 'o2e1'], [4, 4, 'h1']]);
    assert.deepEqual(decodeLogChunk(1, sink.chunks[1]!.content, sink.chunks[1]!.streams).map((l) => `${l.n}${l.stream}:${l.text}`), ['1o:a', '2o:b', '3e:c']);
  });

  it('copies bytes that are valid only during append (transientInput), reusing its chunk buffers', async () => {
    const sink = memorySink();
    const writer = new LogWriter(sink, 1);
    writer.transientInput = true;
    const lines: string[] = [];
    let text = '';
    for (let i = 0; i < 40_000; i++) lines.push(`line ${i} ${'y'.repeat(i % 90)}`);
    await appendThroughOneBuffer(writer, Buffer.from(lines.join('\n') + '\npartial'), 64 * 1024);
    await writer.finish();
    for (const c of sink.chunks) text += chunkText(c.content).toString();
    assert.equal(text, `${lines.join('\n')}\npartial\n`);
    assert.ok(sink.chunks.length >= 2, `${sink.chunks.length} chunks`);
    assert.equal(sink.chunks.at(-1)!.lastLine, 40_000);
  });

  it('keeps the logs of writers that share the free chunk buffers apart', async () => {
    // Two commands pouring at once on one worker, then a third after them, all transientInput.
    const run = async (name: string) => {
      const sink = memorySink();
      const writer = new LogWriter(sink, 1);
      writer.transientInput = true;
      const all = Buffer.from(Array.from({ length: 30_000 }, (_, i) => `${name} ${i} ${'z'.repeat(i % 70)}`).join('\n') + '\n');
      await appendThroughOneBuffer(writer, all, 100 * 1024);
      await writer.finish();
      return { sent: all.toString(), stored: sink.chunks.map((c) => chunkText(c.content).toString()).join(''), chunks: sink.chunks.length };
    };
    const results = [...await Promise.all([run('first'), run('second')]), await run('third')];
    for (const r of results) {
      assert.ok(r.chunks >= 2, `${r.chunks} chunks`);
      assert.equal(r.stored, r.sent);
    }
  });

  it('stops splitting lines for an observer that says it has seen enough', async () => {
    const seen: string[] = [];
    const writer = new LogWriter(memorySink(), 1, 0, (_s, text) => (seen.push(text), seen.length < 2 ? undefined : false));
    await writer.append('o', 'one\ntwo\nthree\n');
    await writer.append('o', `${'y'.repeat(CHUNK_TARGET_BYTES)}\nfour\n`);
    const deflater = new ChunkDeflater();
    await writer.appendEncoded({ lines: 1, streams: 'o1', rawBytes: 5, data: await deflater.compress(Buffer.from('five\n')) });
    deflater.close();
    await writer.finish();
    assert.deepEqual(seen, ['one', 'two']);
    assert.equal(writer.linesWritten, 6);
  });

  it('shows a worker\'s chunk to the observer line by line, stopping inside it when told', async () => {
    const seen: string[] = [];
    const writer = new LogWriter(memorySink(), 1, 0, (s, text) => (seen.push(`${s}:${text}`), seen.length < 3));
    const deflater = new ChunkDeflater();
    await writer.appendEncoded({ lines: 4, streams: 'o1e2o1', rawBytes: 8, data: await deflater.compress(Buffer.from('a\nb\nc\nd\n')) });
    await writer.appendEncoded({ lines: 1, streams: 'o1', rawBytes: 2, data: await deflater.compress(Buffer.from('e\n')) });
    deflater.close();
    await writer.finish();
    assert.deepEqual(seen, ['o:a', 'e:b', 'e:c']);
    assert.equal(writer.linesWritten, 5);
  });
});

describe('log chunks where lz4-napi does not load', () => {
  it('deflates new chunks, reads deflate ones and LZ4 ones written elsewhere, and refuses a corrupt LZ4 one', async () => {
    const lz4Chunk = await chunkCompressor('lz4').compress(Buffer.from('written where lz4-napi loads\n'.repeat(50)));
    assert.equal(lz4Chunk[0], 0xff, 'an LZ4 chunk');
    const corruptChunk = Buffer.from([0xff, 1, 2, 3]);
    // A process in which requiring lz4-napi fails, as on a platform without its binary.
    const script = `
      const Module = require('node:module');
      const load = Module._load;
      Module._load = function (request, ...rest) {
        if (request === 'lz4-napi') throw new Error('no binary for this platform');
        return load.call(this, request, ...rest);
      };
      import(${JSON.stringify(new URL('../../src/storage/log-chunks.js', import.meta.url).href)}).then(async (m) => {
        const c = m.chunkCompressor('lz4');
        const out = await c.compress(Buffer.from('a\\nb\\n'));
        let error = '';
        try { m.chunkText(Buffer.from(${JSON.stringify([...corruptChunk])})); } catch (e) { error = e.code + ': ' + e.message; }
        const lz4Text = m.chunkText(Buffer.from(${JSON.stringify([...lz4Chunk])})).toString();
        console.log(JSON.stringify({ canUse: m.canUseLz4(), first: out[0], text: m.chunkText(out).toString(), lz4Text, error }));
      });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { canUse: boolean; first: number; text: string; lz4Text: string; error: string };
    assert.equal(got.canUse, false);
    assert.notEqual(got.first, 0xff, 'a deflate chunk');
    assert.equal(got.text, 'a\nb\n');
    assert.equal(got.lz4Text, 'written where lz4-napi loads\n'.repeat(50));
    assert.match(got.error, /^KEEL_ERR_STORAGE: a stored log chunk is corrupt \(LZ4/);
  });
});
