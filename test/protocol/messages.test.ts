// The protocol's frame validation and the connection's numbering, refusal and heartbeat rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProtocolConnection } from '../../src/protocol/connection.js';
import { decodeMasterFrame, decodeWorkerFrame, encodeOutputFrame, PROTOCOL_VERSION } from '../../src/protocol/messages.js';
import type { MasterMessage, MasterOutgoing, WorkerMessage, WorkerOutgoing } from '../../src/protocol/messages.js';
import { memoryTransportPair } from '../../src/protocol/transports.js';

const info = { hostname: 'h', os: 'linux', arch: 'x64', node: 'v20', cpus: 2, keel: '0.1.0' };

describe('frame validation', () => {
  it('accepts a valid hello', () => {
    const d = decodeWorkerFrame(JSON.stringify({ type: 'hello', seq: 1, protocol: PROTOCOL_VERSION, name: 'w', secret: 's', info, maxBuilds: 2 }));
    assert.ok(d.ok);
    assert.equal(d.message.type, 'hello');
    if (d.message.type === 'hello') assert.deepEqual([d.message.name, d.message.maxBuilds, d.message.info.cpus], ['w', 2, 2]);
  });

  it('refuses non-JSON, unknown types, missing and extra fields, naming the problem', () => {
    const cases: [string, RegExp][] = [
      ['{not json', /not JSON/],
      [JSON.stringify({ type: 'shutdown', seq: 3 }), /type/],
      // Output only comes in binary frames.
      [JSON.stringify({ type: 'command.output', seq: 4, commandId: 'c', chunks: [{ stream: 'o', data: 'a' }] }), /type/],
      [JSON.stringify({ type: 'heartbeat', seq: 5, time: 1, extra: true }), /extra/],
      ['[]', /invalid frame/],
    ];
    for (const [text, pattern] of cases) {
      const d = decodeWorkerFrame(text);
      assert.equal(d.ok, false, text);
      if (!d.ok) assert.match(d.error, pattern, text);
    }
    const withSeq = decodeWorkerFrame(JSON.stringify({ type: 'nope', seq: 9 }));
    assert.ok(!withSeq.ok && withSeq.seq === 9);
  });

  it('round-trips binary output frames, bytes untouched', () => {
    const chunks = [{ stream: 'o' as const, data: Buffer.from('héllo\n') }, { stream: 'e' as const, data: Buffer.from([0xff, 0x0a]) }];
    const frame = encodeOutputFrame(7, 'c1', chunks);
    const d = decodeWorkerFrame(frame);
    assert.ok(d.ok && d.message.type === 'command.output');
    assert.equal(d.message.seq, 7);
    assert.deepEqual(d.message.chunks.map((c) => ['stream' in c ? c.stream : '', c.data.toString('hex')]), chunks.map((c) => [c.stream, c.data.toString('hex')]));
  });

  it('round-trips compressed log chunks beside raw pieces, and checks their line counts', () => {
    const chunks = [{ lines: 3, streams: 'o2e1', rawBytes: 9, data: Buffer.from([1, 2, 3]) }, { stream: 'h' as const, data: Buffer.from('x') }];
    const d = decodeWorkerFrame(encodeOutputFrame(3, 'c1', chunks));
    assert.ok(d.ok && d.message.type === 'command.output');
    assert.deepEqual(d.message.chunks.map((c) => ({ ...c, data: c.data.toString('hex') })), chunks.map((c) => ({ ...c, data: c.data.toString('hex') })));
    const lying = decodeWorkerFrame(encodeOutputFrame(4, 'c1', [{ lines: 4, streams: 'o2e1', rawBytes: 9, data: Buffer.from([1]) }]));
    assert.ok(!lying.ok && /do not add up to its 4 lines/.test(lying.error) && lying.seq === 4);
    const badRuns = decodeWorkerFrame(encodeOutputFrame(5, 'c1', [{ lines: 1, streams: 'x1', rawBytes: 9, data: Buffer.from([1]) }]));
    assert.ok(!badRuns.ok);
  });

  it('refuses binary frames whose header lies about the payload', () => {
    const frame = encodeOutputFrame(8, 'c1', [{ stream: 'o', data: Buffer.from('abc') }]);
    const short = decodeWorkerFrame(frame.subarray(0, frame.length - 1));
    assert.ok(!short.ok && /payload is 2 bytes, its header says 3/.test(short.error) && short.seq === 8);
    assert.equal(decodeWorkerFrame(Buffer.from([0, 0, 9, 9, 1])).ok, false);
    assert.equal(decodeWorkerFrame(Buffer.from([1])).ok, false);
    const header = Buffer.from(JSON.stringify({ type: 'command.output', seq: 1, commandId: 'c', chunks: [{ stream: 'x', bytes: 0 }] }));
    const size = Buffer.alloc(4);
    size.writeUInt32BE(header.length);
    const bad = decodeWorkerFrame(Buffer.concat([size, header]));
    assert.ok(!bad.ok && /chunks\.0\.stream/.test(bad.error));
    assert.equal(decodeMasterFrame(frame).ok, false, 'a worker accepts no binary frames');
  });

  it('a worker only accepts master messages', () => {
    assert.equal(decodeMasterFrame(JSON.stringify({ type: 'hello', seq: 1, protocol: PROTOCOL_VERSION, name: 'w', secret: 's', info, maxBuilds: 1 })).ok, false);
    const start = decodeMasterFrame(JSON.stringify({ type: 'command.start', seq: 2, commandId: 'c1', argv: ['true'], workdir: 'b/build', timeout: 10 }));
    assert.ok(start.ok);
    if (start.ok && start.message.type === 'command.start') assert.equal(start.message.killGraceMs, 5000);
  });
});

describe('ProtocolConnection', () => {
  function pair() {
    const [m, w] = memoryTransportPair();
    const warnings: string[] = [];
    const log = { warn: (s: string) => warnings.push(s) };
    const master = new ProtocolConnection<WorkerMessage, MasterOutgoing>(m, decodeWorkerFrame, log, 'worker');
    const worker = new ProtocolConnection<MasterMessage, WorkerOutgoing>(w, decodeMasterFrame, log, 'master');
    return { master, worker, m, w, warnings };
  }

  it('numbers frames and delivers validated messages', async () => {
    const { master, worker } = pair();
    const got: WorkerMessage[] = [];
    master.onMessage((msg) => got.push(msg));
    worker.send({ type: 'heartbeat', time: 1 });
    worker.send({ type: 'heartbeat', time: 2 });
    await sleep(5);
    assert.deepEqual(got.map((g) => g.seq), [1, 2]);
  });

  it('refuses a malformed frame with an error reply and keeps the connection', async () => {
    const { master, worker, w, warnings } = pair();
    const workerGot: MasterMessage[] = [];
    worker.onMessage((msg) => workerGot.push(msg));
    const masterGot: WorkerMessage[] = [];
    master.onMessage((msg) => masterGot.push(msg));
    w.send(JSON.stringify({ type: 'bogus', seq: 7 }));
    worker.send({ type: 'heartbeat', time: 3 });
    await sleep(5);
    assert.equal(masterGot.length, 1, 'the good frame after the bad one still arrives');
    const err = workerGot[0];
    assert.equal(err?.type, 'error');
    if (err?.type === 'error') {
      assert.equal(err.re, 7);
      assert.equal(err.code, 'KEEL_ERR_PROTOCOL');
    }
    assert.equal(warnings.length, 1);
    assert.ok(master.isOpen);
  });

  it('closes after three heartbeat intervals of silence', async () => {
    const { master, worker } = pair();
    let reason = '';
    master.onClose((r) => (reason = r));
    // The worker never sends heartbeats; the master's own heartbeats do not count as hearing.
    worker.onMessage(() => {});
    master.startHeartbeat(20, () => ({ type: 'heartbeat', time: Date.now() }));
    await sleep(150);
    assert.equal(master.isOpen, false);
    assert.equal(reason, 'heartbeat timeout');
  });
});
