// The REST API under /api/v1 and its live event stream. Reads are open; writes need a bearer
// token from the config's auth.tokens. Shapes are documented in docs/api.md.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { KeelError } from '../errors.js';
import type { Master } from '../master/master.js';
import { RESULTS } from '../master/results.js';
import type { BuildRecord, StepRecord } from '../storage/storage.js';
import type { MasterLog } from '../master/master-deps.js';
import { changeJson, registerChangeRoutes } from './change-routes.js';
import { sendLogText } from './log-text-response.js';
import { idParam, parseInput } from './request-input.js';
import { registerTestRoutes } from './test-routes.js';

const forceBody = z.object({
  branch: z.string().min(1).optional(),
  revision: z.string().min(1).optional(),
  repository: z.string().min(1).optional(),
  reason: z.string().optional(),
  /** Who asks; shown as the build's `owner` property. */
  owner: z.string().min(1).optional(),
  /** The force scheduler's parameters (`properties` is read the same way, for issue 4's clients). */
  params: z.record(z.string(), z.unknown()).optional(),
  properties: z.record(z.string(), z.unknown()).optional(),
  /** Which force scheduler, when several list the builder; default the first. */
  scheduler: z.string().min(1).optional(),
}).strict();

const buildsQuery = z.object({
  builder: z.string().optional(),
  result: z.enum(RESULTS).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

const linesQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(100_000).default(1000),
});

function buildJson(b: BuildRecord) {
  return {
    id: b.id, builder: b.builder, number: b.number, worker: b.worker, requestId: b.requestId,
    result: b.result, reason: b.reason, startedAt: b.startedAt, finishedAt: b.finishedAt, properties: b.properties,
  };
}

function stepJson(s: StepRecord, logs: string[]) {
  return { number: s.number, name: s.name, result: s.result, reason: s.reason, startedAt: s.startedAt, finishedAt: s.finishedAt, logs };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function registerApiRoutes(app: FastifyInstance, master: Master, log: MasterLog): void {
  const { storage } = master;

  const requireToken = (req: FastifyRequest) => {
    const tokens = master.resolvedConfig.authTokens;
    // No tokens configured: the operator chose an open master (keel up on localhost).
    if (tokens.length === 0) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const given = m ? digest(m[1]!.trim()) : undefined;
    if (!given || !tokens.some((t) => timingSafeEqual(digest(t), given))) {
      throw new KeelError('KEEL_ERR_UNAUTHORIZED', 'this action needs Authorization: Bearer <token> with a token from the config');
    }
  };

  const findBuild = async (raw: unknown) => {
    const build = await storage.getBuild(parseInput(idParam, raw, 'build id'));
    if (!build) throw new KeelError('KEEL_ERR_NOT_FOUND', `no build ${String(raw)}`);
    return build;
  };

  const findLog = async (params: { id: string; step: string; log: string }) => {
    const build = await findBuild(params.id);
    const steps = await storage.listSteps(build.id);
    const step = steps.find((s) => String(s.number) === params.step) ?? steps.find((s) => s.name === params.step);
    if (!step) throw new KeelError('KEEL_ERR_NOT_FOUND', `build ${build.id} has no step ${params.step}`);
    const log = await storage.getLog(step.id, params.log);
    if (!log) throw new KeelError('KEEL_ERR_NOT_FOUND', `step ${params.step} of build ${build.id} has no log ${params.log}`);
    return log;
  };

  app.get('/api/v1/builders', async () => {
    const builders = master.resolvedConfig.builders.map((b) => ({ name: b.name, description: b.description, tags: b.tags, workers: b.workers }));
    return { builders, total: builders.length };
  });

  app.get<{ Params: { name: string } }>('/api/v1/builders/:name', async (req) => {
    const b = master.resolvedConfig.builders.find((x) => x.name === req.params.name);
    if (!b) throw new KeelError('KEEL_ERR_NOT_FOUND', `no builder named "${req.params.name}"`);
    const queued = await storage.listQueuedRequests(b.name);
    return { name: b.name, description: b.description, tags: b.tags, workers: b.workers, steps: b.steps.map((s) => s.name), queued: queued.length };
  });

  app.post<{ Params: { name: string } }>('/api/v1/builders/:name/force', async (req, reply) => {
    requireToken(req);
    const body = parseInput(forceBody, req.body ?? {}, 'body');
    const reason = body.reason ?? 'forced through the API';
    const schedulers = master.triggers.forceSchedulersFor(req.params.name);
    const chosen = body.scheduler === undefined ? schedulers[0] : schedulers.find((s) => s.name === body.scheduler);
    if (body.scheduler !== undefined && !chosen) throw new KeelError('KEEL_ERR_BAD_REQUEST', `no force scheduler named "${body.scheduler}" lists builder "${req.params.name}"`);
    if (!chosen) {
      // No force scheduler: a plain forced build, its properties as given (nothing to check them against).
      if (body.params && Object.keys(body.params).length > 0) {
        throw new KeelError('KEEL_ERR_FORCE_PARAMS', `builder "${req.params.name}" declares no force parameters: add force({ builders: ['${req.params.name}'], params: [...] }) to the config's schedulers`);
      }
      const requestId = await master.submit(req.params.name, {
        branch: body.branch ?? null, revision: body.revision ?? null, repository: body.repository ?? null, reason,
        properties: { ...body.properties, scheduler: 'force', owner: body.owner ?? null },
      });
      return reply.code(201).send({ requestId });
    }
    const [submitted] = await chosen.force({
      builder: req.params.name, branch: body.branch, revision: body.revision, repository: body.repository, reason, owner: body.owner,
      params: { ...body.properties, ...body.params },
    });
    const requestId = submitted?.requestId;
    if (requestId === undefined) throw new KeelError('KEEL_ERR_INTERNAL', 'the force scheduler submitted no request');
    return reply.code(201).send({ requestId });
  });

  app.get<{ Params: { id: string } }>('/api/v1/requests/:id', async (req) => {
    const id = parseInput(idParam, req.params.id, 'request id');
    const r = await storage.getBuildRequest(id);
    if (!r) throw new KeelError('KEEL_ERR_NOT_FOUND', `no build request ${id}`);
    return {
      id: r.id, builder: r.builder, buildIds: await storage.listBuildIdsForRequest(id), repository: r.repository, branch: r.branch, revision: r.revision,
      reason: r.reason, properties: r.properties, submittedAt: r.submittedAt, completedAt: r.completedAt, result: r.result, mergedInto: r.mergedInto,
      changeIds: (await storage.listRequestChanges(id)).map((c) => c.id),
    };
  });

  app.get('/api/v1/builds', async (req) => {
    const q = parseInput(buildsQuery, req.query, 'query');
    const { builds, total } = await storage.listBuilds(q);
    return { builds: builds.map(buildJson), total };
  });

  app.get<{ Params: { id: string } }>('/api/v1/builds/:id', async (req) => {
    const build = await findBuild(req.params.id);
    const steps = await storage.listSteps(build.id);
    const logs = await storage.listLogs(steps.map((s) => s.id));
    const changes = await storage.listBuildChanges(build.id);
    return {
      ...buildJson(build), steps: steps.map((s) => stepJson(s, logs.filter((l) => l.stepId === s.id).map((l) => l.name))),
      changes: changes.map(changeJson),
    };
  });

  app.post<{ Params: { id: string } }>('/api/v1/builds/:id/stop', async (req) => {
    requireToken(req);
    const build = await findBuild(req.params.id);
    const stopped = await master.stopBuild(build.id, 'stopped through the API');
    return { stopped };
  });

  app.post<{ Params: { id: string } }>('/api/v1/builds/:id/rebuild', async (req, reply) => {
    requireToken(req);
    const build = await findBuild(req.params.id);
    return reply.code(201).send({ requestId: await master.rebuild(build.id) });
  });

  app.get<{ Params: { id: string; step: string; log: string } }>('/api/v1/builds/:id/steps/:step/logs/:log', async (req) => {
    const log = await findLog(req.params);
    const q = parseInput(linesQuery, req.query, 'query');
    const lines = await storage.readLogLines(log.id, q.offset, q.limit);
    return { lines, total: log.numLines, finished: log.finished };
  });

  app.get<{ Params: { id: string; step: string; log: string } }>('/api/v1/builds/:id/steps/:step/logs/:log/raw', async (req, reply) => {
    const log = await findLog(req.params);
    // Chunk by chunk from the database to the socket, paced by the socket (log-text-response.ts).
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    await sendLogText(reply.raw, (take) => storage.streamLogText(log.id, take));
  });

  app.get('/api/v1/workers', async () => {
    const stored = await storage.listWorkers();
    const configured = master.resolvedConfig.workers;
    const workers = configured.map((w) => {
      const live = master.registry.get(w.name);
      const row = stored.find((s) => s.name === w.name);
      return {
        name: w.name, connected: live !== undefined, info: live?.info ?? row?.info ?? {},
        maxBuilds: live?.maxBuilds ?? w.maxBuilds, runningBuilds: live?.running ?? 0, lastSeen: row?.lastSeen ?? null,
      };
    });
    return { workers, total: workers.length };
  });

  registerTestRoutes(app, master, requireToken);
  registerChangeRoutes(app, master, log);

  // Server-sent events: one `data:` line of JSON per master event.
  app.get('/api/v1/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': keel events\n\n');
    const unsubscribe = master.events.subscribe((event) => {
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const keepAlive = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(keepAlive);
      unsubscribe();
    });
  });
}
