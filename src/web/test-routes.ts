// The test-intelligence API (docs/api.md, "Tests"): a build's test outcomes, a test's history,
// flaky tests, current failures and the quarantine. A test id is one path segment,
// percent-encoded as encodeURIComponent does ("a/b > c d" is "a%2Fb%20%3E%20c%20d").
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { KeelError } from '../errors.js';
import type { Master } from '../master/master.js';
import { DEFAULT_INSIGHT_DAYS, rankStoredFlakyTests, setQuarantine, storedCurrentFailures, storedRegressions } from '../master/test-insight.js';
import { countOutcomes, TEST_OUTCOMES } from '../results/model.js';
import type { TestOutcome } from '../results/model.js';
import type { TestOutcomeRow } from '../storage/storage.js';
import { idParam, parseInput } from './request-input.js';

const DAY_MS = 24 * 60 * 60 * 1000;

const outcomeList = z.string().transform((s, ctx) => {
  const list = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  for (const o of list) {
    if (!(TEST_OUTCOMES as readonly string[]).includes(o)) {
      ctx.addIssue({ code: 'custom', message: `unknown outcome "${o}": one of ${TEST_OUTCOMES.join(', ')}` });
      return z.NEVER;
    }
  }
  return list as TestOutcome[];
});

const buildTestsQuery = z.object({ outcome: outcomeList.optional() });
const historyQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) });
const insightQuery = z.object({
  branch: z.string().min(1).optional(),
  since: z.coerce.number().int().min(0).optional(),
});
const flakyQuery = insightQuery.extend({
  window: z.coerce.number().int().min(1).max(10_000).default(100),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const quarantineBody = z.object({ reason: z.string().max(1000).optional() }).strict();
/** Test ids are bounded by what a parser makes; a longer one is no test of ours. */
const testIdParam = z.string().min(1).max(4096);

function outcomeJson(r: TestOutcomeRow) {
  return {
    id: r.testId, file: r.file, name: r.name, step: r.step, outcome: r.outcome, attempt: r.attempt, durationMs: r.durationMs,
    message: r.message, details: r.details, fingerprint: r.fingerprint,
  };
}

export function registerTestRoutes(app: FastifyInstance, master: Master, requireToken: (req: FastifyRequest) => void): void {
  const { storage } = master;
  const sinceOf = (since: number | undefined) => since ?? Date.now() - DEFAULT_INSIGHT_DAYS * DAY_MS;

  app.get<{ Params: { id: string } }>('/api/v1/builds/:id/tests', async (req) => {
    const id = parseInput(idParam, req.params.id, 'build id');
    if (!(await storage.getBuild(id))) throw new KeelError('KEEL_ERR_NOT_FOUND', `no build ${id}`);
    const q = parseInput(buildTestsQuery, req.query, 'query');
    const all = await storage.listTestOutcomes(id);
    const quarantined = new Set((await storage.listQuarantinedTests()).map((t) => t.testId));
    const wanted = q.outcome === undefined ? all : all.filter((r) => q.outcome!.includes(r.outcome));
    const tests = wanted.map((r) => ({ ...outcomeJson(r), quarantined: quarantined.has(r.testId) }));
    return { tests, total: tests.length, counts: countOutcomes(all) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/tests/:id/history', async (req) => {
    const testId = parseInput(testIdParam, req.params.id, 'test id');
    const q = parseInput(historyQuery, req.query, 'query');
    const rows = await storage.testHistory(testId, q.limit);
    const quarantine = (await storage.listQuarantinedTests()).find((t) => t.testId === testId);
    if (rows.length === 0 && !quarantine) throw new KeelError('KEEL_ERR_NOT_FOUND', `no outcome of a test "${testId}" is stored`);
    const runs = rows.map((r) => ({
      buildId: r.buildId, builder: r.builder, branch: r.branch, revision: r.revision, worker: r.worker, startedAt: r.startedAt,
      step: r.step, outcome: r.outcome, attempt: r.attempt, durationMs: r.durationMs, message: r.message, fingerprint: r.fingerprint,
    }));
    return { testId, quarantined: quarantine !== undefined, runs, total: runs.length };
  });

  app.get('/api/v1/flaky', async (req) => {
    const q = parseInput(flakyQuery, req.query, 'query');
    const since = sinceOf(q.since);
    const ranked = await rankStoredFlakyTests(storage, { since, window: q.window, ...(q.branch !== undefined ? { branch: q.branch } : {}) });
    return { flaky: ranked.slice(0, q.limit), total: ranked.length, since };
  });

  app.get('/api/v1/failures', async (req) => {
    const q = parseInput(insightQuery, req.query, 'query');
    const since = sinceOf(q.since);
    const groups = await storedCurrentFailures(storage, { since, ...(q.branch !== undefined ? { branch: q.branch } : {}) });
    return { groups, total: groups.length, since };
  });

  app.get('/api/v1/regressions', async (req) => {
    const q = parseInput(insightQuery, req.query, 'query');
    const since = sinceOf(q.since);
    const regressions = await storedRegressions(storage, { since, ...(q.branch !== undefined ? { branch: q.branch } : {}) });
    return { regressions, total: regressions.length, since };
  });

  app.get('/api/v1/quarantine', async () => {
    const tests = await storage.listQuarantinedTests();
    return { tests, total: tests.length };
  });

  app.post<{ Params: { id: string } }>('/api/v1/tests/:id/quarantine', async (req, reply) => {
    requireToken(req);
    const testId = parseInput(testIdParam, req.params.id, 'test id');
    const body = parseInput(quarantineBody, req.body ?? {}, 'body');
    const added = await setQuarantine(master, testId, true, body.reason ?? null, Date.now());
    return reply.code(added ? 201 : 200).send({ testId, quarantined: true, added });
  });

  app.delete<{ Params: { id: string } }>('/api/v1/tests/:id/quarantine', async (req) => {
    requireToken(req);
    const testId = parseInput(testIdParam, req.params.id, 'test id');
    const lifted = await setQuarantine(master, testId, false, null, Date.now());
    return { testId, quarantined: false, lifted };
  });
}
