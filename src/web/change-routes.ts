// Changes in and out: the webhooks (/hooks/github, /hooks/gitlab, /hooks/generic), enabled by
// their sources in the config, and the changes under /api/v1/changes. A hook's body is taken as
// raw bytes, since a signature covers exactly what was sent.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { KeelError } from '../errors.js';
import type { Change } from '../master/changes/change.js';
import { handleGenericHook } from '../master/changes/generic-hook.js';
import { handleGithubHook } from '../master/changes/github-hook.js';
import { handleGitlabHook } from '../master/changes/gitlab-hook.js';
import type { WebhookHeaders, WebhookResult } from '../master/changes/webhook-request.js';
import type { Master } from '../master/master.js';
import type { MasterLog } from '../master/master-deps.js';
import type { ChangeRecord } from '../storage/storage.js';
import { idParam, parseInput } from './request-input.js';

/** GitHub sends payloads of up to 25 MB. */
const HOOK_BODY_LIMIT = 25 * 1024 * 1024;

const changesQuery = z.object({
  repository: z.string().min(1).optional(),
  branch: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
}).strict();

export function changeJson(c: ChangeRecord) {
  return {
    id: c.id, repository: c.repository, branch: c.branch, revision: c.revision, author: c.author, committer: c.committer ?? null,
    time: c.time, message: c.message, files: c.files, link: c.link ?? null, category: c.category ?? null, source: c.source,
    project: c.project ?? null, properties: c.properties ?? {}, recordedAt: c.recordedAt,
  };
}

function handlerFor(master: Master, provider: string): ((headers: WebhookHeaders, body: Buffer) => WebhookResult) | undefined {
  for (const source of master.resolvedConfig.sources) {
    if (provider === 'github' && source.type === 'githubHook') return (h, b) => handleGithubHook(h, b, source);
    if (provider === 'gitlab' && source.type === 'gitlabHook') return (h, b) => handleGitlabHook(h, b, source);
    if (provider === 'generic' && source.type === 'genericHook') return (h, b) => handleGenericHook(h, b, source);
  }
  return undefined;
}

export function registerChangeRoutes(app: FastifyInstance, master: Master, log: MasterLog): void {
  const { storage } = master;

  void app.register(async (hooks) => {
    // Only here: the API's JSON parser stays as it is everywhere else.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: HOOK_BODY_LIMIT }, (_req, body, done) => done(null, body));

    hooks.post<{ Params: { provider: string } }>('/hooks/:provider', { bodyLimit: HOOK_BODY_LIMIT }, async (req, reply) => {
      const handle = handlerFor(master, req.params.provider);
      if (!handle) {
        throw new KeelError('KEEL_ERR_NOT_FOUND', ['github', 'gitlab', 'generic'].includes(req.params.provider)
          ? `the ${req.params.provider} hook is not enabled: add ${req.params.provider}Hook({ … }) to the config's sources`
          : `no hook named "${req.params.provider}" (github, gitlab, generic)`);
      }
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const result = handle(req.headers, body);
      if (result.status !== 200) {
        log.warn(`/hooks/${req.params.provider} refused a request from ${req.ip}: ${result.status} ${result.reason}`);
        return reply.code(result.status).send({ error: { code: result.status === 401 ? 'KEEL_ERR_UNAUTHORIZED' : 'KEEL_ERR_BAD_REQUEST', message: result.reason } });
      }
      const stored = result.changes.length > 0 ? await master.triggers.addChanges(result.changes as Change[]) : [];
      return { reason: result.reason, changes: stored.length, changeIds: stored.map((c) => c.id) };
    });
  });

  app.get('/api/v1/changes', async (req) => {
    const q = parseInput(changesQuery, req.query, 'query');
    const { changes, total } = await storage.listChanges(q);
    return { changes: changes.map(changeJson), total };
  });

  app.get<{ Params: { id: string } }>('/api/v1/changes/:id', async (req) => {
    const id = parseInput(idParam, req.params.id, 'change id');
    const change = await storage.getChange(id);
    if (!change) throw new KeelError('KEEL_ERR_NOT_FOUND', `no change ${id}`);
    return changeJson(change);
  });
}
