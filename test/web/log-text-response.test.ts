// Sending a log's text over real HTTP: every byte in order, the decode buffers reused once the
// socket has taken them, a client that leaves half-way, and a failure half-way cutting the
// transfer rather than ending it as if whole.
import assert from 'node:assert/strict';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { sendLogText } from '../../src/web/log-text-response.js';

const CHUNK = 1024 * 1024;

/** Serves `pieces` through sendLogText on a loopback port; resolves with the URL and when the handler ended. */
async function serve(pieces: (take: (size: number) => Buffer) => AsyncIterable<Buffer>) {
  let ended!: Promise<void>;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    ended = sendLogText(res, pieces);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url, ended: () => ended, close: () => new Promise((r) => server.close(r)) };
}

/** The body, read slowly enough that the server meets back-pressure; or the error that cut it. */
function download(url: string, stopAfter = Infinity): Promise<{ body: Buffer; error?: Error }> {
  return new Promise((resolve) => {
    get(url, (res) => {
      const parts: Buffer[] = [];
      let n = 0;
      res.on('data', (d: Buffer) => {
        parts.push(d);
        n += d.length;
        if (n >= stopAfter) {
          res.destroy();
          resolve({ body: Buffer.concat(parts) });
        }
      });
      res.on('end', () => resolve({ body: Buffer.concat(parts) }));
      res.on('error', (error) => resolve({ body: Buffer.concat(parts), error }));
    }).on('error', (error) => resolve({ body: Buffer.alloc(0), error }));
  });
}

describe('sendLogText', () => {
  it('sends every piece in order and decodes into a few reused buffers', async () => {
    const buffers = new Set<ArrayBufferLike>();
    let takes = 0;
    const srv = await serve(async function* (take) {
      for (let i = 0; i < 40; i++) {
        const b = take(CHUNK - i);
        takes++;
        buffers.add(b.buffer);
        b.fill(65 + (i % 26), 0, CHUNK - i);
        yield b.subarray(0, CHUNK - i);
      }
    });
    const { body, error } = await download(srv.url);
    await srv.ended();
    await srv.close();
    assert.equal(error, undefined);
    let at = 0;
    for (let i = 0; i < 40; i++) {
      const piece = body.subarray(at, at + CHUNK - i);
      assert.ok(piece.every((c) => c === 65 + (i % 26)), `piece ${i}`);
      at += CHUNK - i;
    }
    assert.equal(body.length, at);
    assert.equal(takes, 40);
    assert.ok(buffers.size <= 4, `${buffers.size} buffers for 40 pieces`);
  });

  it('stops when the client goes away half-way', async () => {
    let yielded = 0;
    const srv = await serve(async function* (take) {
      for (let i = 0; i < 1000; i++) {
        yielded++;
        yield take(CHUNK).fill(120);
      }
    });
    const { body } = await download(srv.url, 3 * CHUNK);
    await srv.ended();
    await srv.close();
    assert.ok(body.length >= 3 * CHUNK);
    assert.ok(yielded < 1000, `${yielded} pieces made for a client that left`);
  });

  it('cuts the transfer when the pieces fail half-way', async () => {
    const srv = await serve(async function* (take) {
      yield take(1000).fill(97).subarray(0, 1000);
      throw new Error('a stored log chunk is corrupt');
    });
    const { error } = await download(srv.url);
    await srv.ended();
    await srv.close();
    assert.ok(error, 'the client sees an error, not a complete body');
  });
});
