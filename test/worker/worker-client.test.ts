// The worker daemon against a scripted master on a real WebSocket (127.0.0.1, port 0):
// handshake, commands, batched output with acks and back-pressure, reconnect after a drop.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import { decodeWorkerFrame, OUTPUT_BATCH_BYTES, OUTPUT_BATCH_INTERVAL_MS, OUTPUT_WINDOW_BYTES, outputBytes, PROTOCOL_VERSION } from '../../src/protocol/messages.js';
import { decodeLogChunk } from '../../src/storage/log-chunks.js';
import type { WorkerMessage } from '../../src/protocol/messages.js';
import { WorkerClient } from '../../src/worker/worker-client.js';
import { collectWorkerInfo } from '../../src/worker/worker-info.js';
import { alive } from '../helpers/processes.js';

/** A master that records what it hears and lets the test script its answers. */
class ScriptedMaster {
  readonly server: WebSocketServer;
  sockets: WebSocket[] = [];
  frames: WorkerMessage[] = [];
  /** When each output frame arrived (performance.now()), by command. */
  outputTimes = new Map<string, number[]>();
  paths: string[] = [];
  autoAck = true;
  /** What the welcome says of LZ4 log chunks. */
  lz4 = true;
  private seq = 1;
  private waiters: (() => void)[] = [];

  constructor() {
    this.server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    this.server.on('connection', (ws, req) => {
      this.paths.push(req.url ?? '');
      this.sockets.push(ws);
      ws.on('message', (data, isBinary) => {
        const d = decodeWorkerFrame(isBinary ? (data as Buffer) : data.toString());
        assert.ok(d.ok, 'the worker sends only valid frames');
        this.frames.push(d.message);
        if (d.message.type === 'hello') this.send(ws, { type: 'welcome', re: d.message.seq, protocol: PROTOCOL_VERSION, heartbeatMs: 1000, master: 'scripted', lz4: this.lz4 });
        if (d.message.type === 'command.output') {
          const times = this.outputTimes.get(d.message.commandId) ?? [];
          times.push(performance.now());
          this.outputTimes.set(d.message.commandId, times);
          // The frame's buffer is reused by ws for nothing else, but keep copies to be safe.
          d.message.chunks = d.message.chunks.map((c) => ({ ...c, data: Buffer.from(c.data) }));
          if (this.autoAck) this.ack(ws, d.message.commandId, d.message.chunks.reduce((n, c) => n + outputBytes(c), 0));
        }
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  send(ws: WebSocket, msg: Record<string, unknown>): void {
    ws.send(JSON.stringify({ ...msg, seq: this.seq++ }));
  }

  ack(ws: WebSocket, commandId: string, bytes: number): void {
    this.send(ws, { type: 'output.ack', commandId, bytes });
  }

  async waitFor<T extends WorkerMessage>(pred: (m: WorkerMessage) => m is T, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('timed out waiting for a frame');
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(100)]);
    }
  }

  /** The output of a command (of one stream), the worker's compressed chunks inflated. */
  output(commandId: string, stream?: string): string {
    return this.frames.flatMap((f) => (f.type === 'command.output' && f.commandId === commandId ? f.chunks : []))
      .flatMap((c) => ('stream' in c ? [{ stream: c.stream, text: c.data.toString('utf8') }] : decodeLogChunk(0, c.data, c.streams).map((l) => ({ stream: l.stream, text: `${l.text}\n` }))))
      .filter((c) => !stream || c.stream === stream).map((c) => c.text).join('');
  }

  sent(commandId: string): number {
    return this.frames.reduce((n, f) => n + (f.type === 'command.output' && f.commandId === commandId ? f.chunks.reduce((m, c) => m + outputBytes(c), 0) : 0), 0);
  }
}

const isFinished = (id: string) => (m: WorkerMessage): m is Extract<WorkerMessage, { type: 'command.finished' }> => m.type === 'command.finished' && m.commandId === id;

describe('WorkerClient', () => {
  let master: ScriptedMaster;
  let worker: WorkerClient;
  const basedir = mkdtempSync(join(tmpdir(), 'keel-worker-'));
  const logs: string[] = [];

  before(async () => {
    master = new ScriptedMaster();
    await new Promise((r) => master.server.once('listening', r));
    worker = new WorkerClient({
      masterUrl: master.url, name: 'w1', secret: 's3cret', basedir, maxBuilds: 2, info: collectWorkerInfo(),
      log: { info: (m) => logs.push(m), warn: (m) => logs.push(m) }, minBackoffMs: 50, maxBackoffMs: 200,
    });
    worker.start();
    await worker.whenConnected();
  });
  after(async () => {
    await worker.stop();
    await new Promise((r) => master.server.close(r));
    rmSync(basedir, { recursive: true, force: true });
  });

  it('says hello on /ws/worker with its name, secret, version and info', () => {
    const hello = master.frames.find((f) => f.type === 'hello');
    assert.ok(hello && hello.type === 'hello');
    assert.deepEqual([hello.name, hello.secret, hello.protocol, hello.maxBuilds, hello.info.node], ['w1', 's3cret', PROTOCOL_VERSION, 2, process.version]);
    assert.equal(master.paths[0], '/ws/worker');
  });

  it('runs a command in its workdir and reports output and exit', async () => {
    const ws = master.sockets[0]!;
    master.send(ws, { type: 'command.start', commandId: 'c1', argv: ['sh', '-c', 'echo hi from $KEEL_X; pwd; echo oops >&2; exit 4'], workdir: 'b1/build', env: { KEEL_X: 'env' }, timeout: 10 });
    const fin = await master.waitFor(isFinished('c1'));
    assert.deepEqual([fin.exitCode, fin.reason], [4, 'exited']);
    assert.equal(master.output('c1', 'o'), `hi from env\n${join(basedir, 'b1/build')}\n`);
    assert.equal(master.output('c1', 'e'), 'oops\n');
  });

  it('refuses a workdir outside the basedir', async () => {
    master.send(master.sockets[0]!, { type: 'command.start', commandId: 'c2', argv: ['true'], workdir: '../escape', timeout: 10 });
    const fin = await master.waitFor(isFinished('c2'));
    assert.equal(fin.reason, 'spawnFailed');
    assert.match(fin.message ?? '', /outside the worker's basedir/);
  });

  it('interrupts a command on command.interrupt', async () => {
    const ws = master.sockets[0]!;
    master.send(ws, { type: 'command.start', commandId: 'c3', argv: ['sleep', '1000'], workdir: 'b1', timeout: 100 });
    await sleep(100);
    master.send(ws, { type: 'command.interrupt', commandId: 'c3', reason: 'build stopped' });
    const fin = await master.waitFor(isFinished('c3'));
    assert.equal(fin.reason, 'interrupted');
    assert.match(master.output('c3', 'h'), /build stopped/);
  });

  it('batches output and stops reading when a window of output is unacknowledged', async () => {
    const ws = master.sockets[0]!;
    master.autoAck = false;
    // 8 MB of output: far more than the window, so the worker must wait for acks.
    master.send(ws, { type: 'command.start', commandId: 'c4', argv: ['sh', '-c', 'head -c 8000000 /dev/zero | tr "\\0" "x"; echo'], workdir: 'b1', timeout: 30 });
    await sleep(700);
    const sentBeforeAcks = master.output('c4').length;
    assert.ok(sentBeforeAcks >= OUTPUT_WINDOW_BYTES, `sent ${sentBeforeAcks}`);
    assert.ok(sentBeforeAcks < OUTPUT_WINDOW_BYTES + 4 * OUTPUT_BATCH_BYTES + 200_000, `without acks the worker kept sending: ${sentBeforeAcks}`);
    assert.equal(master.frames.some(isFinished('c4')), false);
    for (const f of master.frames) {
      if (f.type === 'command.output') assert.ok(f.chunks.reduce((n, c) => n + outputBytes(c), 0) <= 2 * OUTPUT_BATCH_BYTES, 'batches are bounded');
    }
    // Acknowledge everything from now on, including what was held back.
    master.autoAck = true;
    master.ack(ws, 'c4', sentBeforeAcks);
    const fin = await master.waitFor(isFinished('c4'), 20_000);
    assert.equal(fin.exitCode, 0);
    assert.equal(master.output('c4', 'o').length, 8_000_001);
  });

  it('sends lines as compressed chunks, holding no more than a window of them unacknowledged', async () => {
    const ws = master.sockets[0]!;
    master.autoAck = false;
    // The window counts the compressed bytes sent, so the output must stay big once compressed:
    // 12 MB of pseudo-random hex lines (7 MB deflated), some on stderr, the last one
    // unfinished. Printed again by the test itself to compare.
    const script = `awk 'BEGIN { srand(7); for (i = 1; i <= 400000; i++) printf "%d %08x%08x%08x\\n", i, rand() * 4294967295, rand() * 4294967295, rand() * 4294967295 }'; echo err >&2; printf tail`;
    const expected = execFileSync('sh', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 });
    master.send(ws, { type: 'command.start', commandId: 'c6', argv: ['sh', '-c', script], workdir: 'b1', timeout: 30 });
    // Until the worker stops sending: awk takes its time on a busy machine.
    let sentBeforeAcks = 0;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
      await sleep(300);
      const now = master.sent('c6');
      if (now === sentBeforeAcks && now > 0) break;
      sentBeforeAcks = now;
    }
    // The window also counts the output still being cut and compressed (up to two chunks).
    assert.ok(sentBeforeAcks >= OUTPUT_WINDOW_BYTES / 4, `sent ${sentBeforeAcks}`);
    assert.ok(sentBeforeAcks < OUTPUT_WINDOW_BYTES + 2 * OUTPUT_BATCH_BYTES + 200_000, `without acks the worker kept sending: ${sentBeforeAcks}`);
    const pieces = master.frames.flatMap((f) => (f.type === 'command.output' && f.commandId === 'c6' ? f.chunks : []));
    assert.ok(pieces.every((c) => 'lines' in c && c.data.length < c.rawBytes), 'whole lines go compressed');
    assert.ok(pieces.every((c) => c.data[0] === 0xff), 'as LZ4, which this master reads (log-chunks.ts)');
    master.autoAck = true;
    master.ack(ws, 'c6', sentBeforeAcks);
    const fin = await master.waitFor(isFinished('c6'), 20_000);
    assert.equal(fin.exitCode, 0);
    assert.ok(expected.length > 12_000_000 && expected.endsWith('\ntail'));
    assert.equal(master.output('c6', 'o'), expected);
    assert.equal(master.output('c6', 'e'), 'err\n');
  });

  it('sends a pouring command\'s chunks in batches at most every OUTPUT_BATCH_INTERVAL_MS', async () => {
    const ws = master.sockets[0]!;
    // 100 MB of one repeated line: a hundred chunks, each a few KB compressed, so no batch
    // reaches the quarter window that would send it at once.
    master.send(ws, { type: 'command.start', commandId: 'c9', argv: ['sh', '-c', 'yes 0123456789abcdef | head -c 104857600'], workdir: 'b1', timeout: 30 });
    const fin = await master.waitFor(isFinished('c9'), 20_000);
    assert.equal(fin.exitCode, 0);
    const pieces = master.frames.flatMap((f) => (f.type === 'command.output' && f.commandId === 'c9' ? f.chunks : []));
    assert.equal(pieces.reduce((n, c) => n + ('rawBytes' in c ? c.rawBytes : c.data.length), 0), 104_857_600);
    const times = master.outputTimes.get('c9')!;
    const span = times.at(-1)! - times[0]!;
    // Arrival can bunch frames sent apart (a busy test process), never spread them: a margin of 3.
    assert.ok(times.length <= span / OUTPUT_BATCH_INTERVAL_MS + 3, `${times.length} frames in ${span.toFixed(0)} ms`);
    assert.ok(pieces.length >= 2 * times.length, `${pieces.length} chunks in ${times.length} frames`);
  });

  it('passes a printed line on within 200 ms while the command keeps running (the live log)', async () => {
    const ws = master.sockets[0]!;
    // The command prints the time it printed: spawning it, slow on a busy machine, is not counted.
    master.send(ws, { type: 'command.start', commandId: 'c7', argv: ['sh', '-c', 'date +%s%3N; sleep 2'], workdir: 'b1', timeout: 10 });
    const deadline = Date.now() + 5000;
    while (!master.output('c7').includes('\n') && Date.now() < deadline) await sleep(5);
    const lag = Date.now() - Number(master.output('c7').trim());
    assert.ok(lag < 200, `the line arrived ${lag} ms after it was printed`);
    assert.equal(master.frames.some(isFinished('c7')), false, 'while the command still runs');
    await master.waitFor(isFinished('c7'));
  });

  it('reconnects after the connection drops, and kills what was running', async () => {
    const ws = master.sockets[0]!;
    master.send(ws, { type: 'command.start', commandId: 'c5', argv: ['sh', '-c', 'echo pid $$; sleep 1000'], workdir: 'b1', timeout: 100 });
    await sleep(200);
    const pid = Number(/pid (\d+)/.exec(master.output('c5'))?.[1]);
    assert.ok(pid > 0);
    ws.terminate();
    for (let i = 0; i < 100 && master.frames.filter((f) => f.type === 'hello').length < 2; i++) await sleep(50);
    assert.equal(master.frames.filter((f) => f.type === 'hello').length, 2);
    assert.equal(await alive(pid), false, 'the command of the lost connection was killed');
  });

  it('deflates the chunks for a master that does not read LZ4', async () => {
    master.lz4 = false;
    master.sockets[master.sockets.length - 1]!.terminate();
    const hellos = master.frames.filter((f) => f.type === 'hello').length;
    for (let i = 0; i < 100 && master.frames.filter((f) => f.type === 'hello').length === hellos; i++) await sleep(50);
    await sleep(50);
    const ws = master.sockets[master.sockets.length - 1]!;
    master.send(ws, { type: 'command.start', commandId: 'c8', argv: ['seq', '1', '100000'], workdir: 'b1', timeout: 30 });
    await master.waitFor(isFinished('c8'));
    const pieces = master.frames.flatMap((f) => (f.type === 'command.output' && f.commandId === 'c8' ? f.chunks : []));
    assert.ok(pieces.length > 0 && pieces.every((c) => 'lines' in c && c.data[0] !== 0xff));
    assert.equal(master.output('c8'), `${Array.from({ length: 100_000 }, (_, i) => i + 1).join('\n')}\n`);
  });
});
