// The master's handshake rules over the in-memory transport: version, name and secret checks,
// nothing served before hello, and commands routed with acknowledged output.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventBus } from '../../src/master/events.js';
import { systemClock } from '../../src/master/master-deps.js';
import { WorkerRegistry } from '../../src/master/worker-registry.js';
import { encodeOutputFrame, PROTOCOL_VERSION } from '../../src/protocol/messages.js';
import { memoryTransportPair } from '../../src/protocol/transports.js';
import { openStorage } from '../../src/storage/open-storage.js';
import type { Storage } from '../../src/storage/storage.js';

const info = { hostname: 'h', os: 'linux', arch: 'x64', node: 'v20', cpus: 2, keel: '0.1.0' };

describe('WorkerRegistry handshake', () => {
  let storage: Storage;
  let registry: WorkerRegistry;
  const warnings: string[] = [];
  let capacity = 0;

  before(async () => {
    storage = await openStorage('sqlite::memory:');
    registry = new WorkerRegistry({
      storage, events: new EventBus(), clock: systemClock, masterName: 'm', heartbeatMs: 1000,
      log: { info: () => {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
      onCapacity: () => capacity++, onLost: () => {},
    }, [{ name: 'w1', secret: 'right', maxBuilds: 3, tags: [] }]);
  });
  after(() => storage.close());

  /** Connects a scripted worker end; returns what it received and whether it was closed. */
  function connect() {
    const [masterEnd, workerEnd] = memoryTransportPair();
    const got: Record<string, unknown>[] = [];
    let closedWith: number | undefined;
    workerEnd.onMessage((d) => got.push(JSON.parse(String(d)) as Record<string, unknown>));
    workerEnd.onClose((code) => (closedWith = code));
    registry.accept(masterEnd, 'test');
    return { send: (msg: unknown) => workerEnd.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg)), got, closed: () => closedWith };
  }

  const hello = (extra: Record<string, unknown> = {}) => ({ type: 'hello', seq: 1, protocol: PROTOCOL_VERSION, name: 'w1', secret: 'right', info, ...extra });

  it('refuses another protocol version, an unknown name and a wrong secret', async () => {
    for (const [msg, pattern] of [
      [hello({ protocol: PROTOCOL_VERSION + 1 }), new RegExp(`protocol version ${PROTOCOL_VERSION + 1} is not supported`)],
      [hello({ name: 'ghost' }), /unknown worker name or wrong secret/],
      [hello({ secret: 'wrong' }), /unknown worker name or wrong secret/],
    ] as const) {
      const w = connect();
      w.send(msg);
      await sleep(5);
      assert.equal(w.got[0]?.['type'], 'refused');
      assert.equal(w.got[0]?.['code'], 'KEEL_ERR_WORKER_AUTH');
      assert.match(String(w.got[0]?.['message']), pattern);
      assert.equal(w.closed(), 4001);
    }
    assert.equal(registry.get('w1'), undefined);
  });

  it('serves nothing before hello', async () => {
    const w = connect();
    w.send({ type: 'heartbeat', seq: 1, time: 1 });
    await sleep(5);
    assert.equal(w.got[0]?.['type'], 'refused');
    assert.match(String(w.got[0]?.['message']), /expected hello, got heartbeat/);
    assert.equal(w.closed(), 4001);
  });

  it('welcomes a good worker, runs a command and acknowledges stored output', async () => {
    const w = connect();
    w.send(hello());
    await sleep(5);
    assert.deepEqual([w.got[0]?.['type'], w.got[0]?.['re'], w.got[0]?.['heartbeatMs']], ['welcome', 1, 1000]);
    const worker = registry.get('w1');
    assert.ok(worker);
    assert.equal(worker.maxBuilds, 3, 'the config decides when the worker sets no limit');
    assert.ok(capacity > 0);
    assert.deepEqual((await storage.listWorkers()).map((r) => [r.name, r.connected]), [['w1', true]]);
    const stored: string[] = [];
    const { commandId, done } = worker.runCommand({ argv: ['x'], workdir: 'b', env: {}, timeout: 5, killGraceMs: 10 }, async (chunks) => {
      await sleep(5);
      stored.push(...chunks.map((c) => c.data.toString()));
    });
    await sleep(5);
    const start = w.got.find((g) => g['type'] === 'command.start');
    assert.equal(start?.['commandId'], commandId);
    w.send(encodeOutputFrame(2, commandId, [{ stream: 'o', data: Buffer.from('hello\n') }]));
    w.send({ type: 'command.finished', seq: 3, commandId, exitCode: 0, signal: null, reason: 'exited', durationMs: 3 });
    const outcome = await done;
    assert.equal(outcome.exitCode, 0);
    assert.deepEqual(stored, ['hello\n'], 'output is stored before the command counts as finished');
    await sleep(5);
    assert.deepEqual(w.got.filter((g) => g['type'] === 'output.ack').map((g) => g['bytes']), [6]);
  });
});
