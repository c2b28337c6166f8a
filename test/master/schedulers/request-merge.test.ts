// The queue policy: merging queued requests, and which running builds a new one supersedes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mergeQueuedRequests, supersededBuilds, type QueuedRequestView } from '../../../src/master/schedulers/request-merge.js';

const req = (id: number, builder: string, branch: string | undefined, revision: string | undefined, changeIds: number[], properties?: Record<string, unknown>): QueuedRequestView =>
  ({ id, builder, repository: 'r', branch, revision, changeIds, ...(properties ? { properties } : {}) });

describe('merging queued requests', () => {
  test('same builder and branch merge: the newest revision wins, the changes are united', () => {
    const queued = [req(3, 'linux', 'main', 'c', [5, 6]), req(1, 'linux', 'main', 'a', [1, 2]), req(2, 'mac', 'main', 'b', [3]), req(4, 'linux', '3.13', 'd', [7]), req(5, 'linux', 'main', 'e', [6, 8])];
    const groups = mergeQueuedRequests(queued);
    assert.deepEqual(groups.map((g) => [g.into.id, g.absorbed.map((r) => r.id), g.changeIds]), [
      [5, [1, 3], [1, 2, 5, 6, 8]],
      [2, [], [3]],
      [4, [], [7]],
    ]);
    assert.equal(groups[0]!.into.revision, 'e');
  });

  test('collapse: false keeps every request of that builder apart', () => {
    const queued = [req(1, 'linux', 'main', 'a', [1]), req(2, 'linux', 'main', 'b', [2]), req(3, 'mac', 'main', 'a', [1]), req(4, 'mac', 'main', 'b', [2])];
    const groups = mergeQueuedRequests(queued, (builder) => builder !== 'linux');
    assert.deepEqual(groups.map((g) => [g.into.id, g.absorbed.map((r) => r.id)]), [[1, []], [2, []], [4, [3]]]);
  });

  test('requests with different properties (force parameters) do not merge; scheduler, reason and owner do not count', () => {
    const queued = [
      req(1, 'linux', 'main', 'a', [], { python: '3.12', scheduler: 'force', owner: 'ada' }),
      req(2, 'linux', 'main', 'a', [], { python: '3.13', scheduler: 'force' }),
      req(3, 'linux', 'main', 'b', [], { scheduler: 'force', python: '3.12', owner: 'bob' }),
    ];
    assert.deepEqual(mergeQueuedRequests(queued).map((g) => [g.into.id, g.absorbed.map((r) => r.id)]), [[3, [1]], [2, []]]);
  });
});

describe('cancelling superseded builds', () => {
  const running = [
    { id: 10, builder: 'linux', repository: 'r', branch: 'main', revision: 'a' },
    { id: 11, builder: 'linux', repository: 'r', branch: '3.13', revision: 'b' },
    { id: 12, builder: 'mac', repository: 'r', branch: 'main', revision: 'a' },
  ];
  test('a newer revision of the branch stops the running build of that builder when it asks to', () => {
    const request = { builder: 'linux', repository: 'r', branch: 'main', revision: 'c' };
    assert.deepEqual(supersededBuilds(running, request, () => true).map((b) => b.id), [10]);
    assert.deepEqual(supersededBuilds(running, request, () => false), []);
    assert.deepEqual(supersededBuilds(running, { ...request, revision: 'a' }, () => true), []);
    assert.deepEqual(supersededBuilds(running, { ...request, branch: undefined }, () => true), []);
  });
});
