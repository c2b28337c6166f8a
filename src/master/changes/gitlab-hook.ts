// The GitLab webhook handler (/hooks/gitlab): push, tag push and merge request events, checked
// with the X-Gitlab-Token the webhook was given.
import { z } from 'zod';
import { formatPerson, type Change } from './change.js';
import {
  accepted, badRequest, checkBody, decodeBody, DEFAULT_SKIP_PATTERNS, header, secretsEqual, skipped, timeOf,
  unauthorized, withOptional, ZERO_SHA, type WebhookHeaders, type WebhookResult,
} from './webhook-request.js';

export interface GitlabHookOptions {
  /** The webhook's secret token; when set, X-Gitlab-Token must equal it. */
  token?: string;
  skipPatterns?: readonly RegExp[];
  category?: string;
  now?: () => number;
}

const project = z.object({ web_url: z.string(), path_with_namespace: z.string().optional() });
const commit = z.object({
  id: z.string().min(1),
  message: z.string().default(''),
  timestamp: z.string().optional(),
  url: z.string().optional(),
  author: z.object({ name: z.string().optional(), email: z.string().optional() }).optional(),
  added: z.array(z.string()).default([]),
  modified: z.array(z.string()).default([]),
  removed: z.array(z.string()).default([]),
});
const pushEvent = z.object({
  ref: z.string().regex(/^refs\//, 'a ref starts with refs/'),
  after: z.string().min(1),
  checkout_sha: z.string().nullish(),
  message: z.string().nullish(),
  user_name: z.string().optional(),
  user_email: z.string().optional(),
  commits: z.array(commit).default([]),
  project,
});
const mergeRequestEvent = z.object({
  user: z.object({ username: z.string().optional(), name: z.string().optional() }).optional(),
  project,
  object_attributes: z.object({
    iid: z.number().int().positive(),
    action: z.string().optional(),
    title: z.string().default(''),
    description: z.string().nullish(),
    url: z.string().optional(),
    source_branch: z.string(),
    target_branch: z.string(),
    oldrev: z.string().optional(),
    source: project.optional(),
    last_commit: commit,
  }),
});

export function handleGitlabHook(headers: WebhookHeaders, rawBody: Buffer | string, options: GitlabHookOptions = {}): WebhookResult {
  if (options.token !== undefined) {
    const token = header(headers, 'x-gitlab-token');
    if (!token) return unauthorized('missing X-Gitlab-Token header');
    if (!secretsEqual(token, options.token)) return unauthorized('X-Gitlab-Token is wrong');
  }
  const event = header(headers, 'x-gitlab-event');
  if (!event) return badRequest('missing X-Gitlab-Event header');
  const body = decodeBody(headers, rawBody);
  if (!body.ok) return body.result;
  const now = options.now ?? Date.now;
  const skipPatterns = options.skipPatterns ?? DEFAULT_SKIP_PATTERNS;

  if (event === 'Push Hook' || event === 'Tag Push Hook') {
    const push = checkBody(pushEvent, body.value, 'push event');
    if (!push.ok) return push.result;
    const p = push.value;
    if (ZERO_SHA.test(p.after)) return accepted([], `${p.ref} deleted`);
    const isTag = event === 'Tag Push Hook';
    const head = p.commits.find((c) => c.id === (p.checkout_sha ?? p.after)) ?? p.commits.at(-1);
    const skip = skipped(head?.message, skipPatterns);
    if (skip) return accepted([], `skipped: the head commit says ${skip.source}`);
    const branch = p.ref.startsWith('refs/heads/') ? p.ref.slice('refs/heads/'.length) : p.ref;
    const base = { repository: p.project.web_url, branch, source: 'gitlab' as const, project: p.project.path_with_namespace, category: isTag ? 'tag' : options.category };
    const changes: Change[] = p.commits.length > 0
      ? p.commits.map((c) => withOptional({
        ...base, revision: c.id, author: formatPerson(c.author?.name, c.author?.email), time: timeOf(c.timestamp, now),
        message: c.message, files: [...c.added, ...c.modified, ...c.removed], link: c.url,
      }))
      // A tag, or a branch pushed at a known commit, lists no commits: build what it points at.
      : [withOptional({
        ...base, revision: p.checkout_sha ?? p.after, author: formatPerson(p.user_name, p.user_email), time: now(),
        message: p.message ?? '', files: [],
      })];
    return accepted(changes, `${changes.length} change(s) on ${p.ref}`);
  }

  if (event === 'Merge Request Hook') {
    const mr = checkBody(mergeRequestEvent, body.value, 'merge request event');
    if (!mr.ok) return mr.result;
    const a = mr.value.object_attributes;
    // `update` also fires for a new title or label; only one that brings commits has oldrev.
    const builds = a.action === 'open' || a.action === 'reopen' || (a.action === 'update' && a.oldrev !== undefined);
    if (!builds) return accepted([], `merge request action ${a.action ?? '(none)'} ignored`);
    const skip = skipped(a.title, skipPatterns) ?? skipped(a.last_commit.message, skipPatterns);
    if (skip) return accepted([], `skipped: the merge request says ${skip.source}`);
    const change: Change = withOptional({
      repository: mr.value.project.web_url,
      // GitLab keeps every merge request's head under this ref in the target project, forks included.
      branch: `refs/merge-requests/${a.iid}/head`,
      revision: a.last_commit.id,
      author: formatPerson(a.last_commit.author?.name, a.last_commit.author?.email) || (mr.value.user?.username ?? ''),
      time: timeOf(a.last_commit.timestamp, now),
      message: `!${a.iid}: ${a.title}${a.description ? `\n\n${a.description}` : ''}`,
      files: [], link: a.url, category: options.category ?? 'merge-request', source: 'gitlab',
      project: mr.value.project.path_with_namespace,
      properties: { mergeRequest: a.iid, sourceBranch: a.source_branch, targetBranch: a.target_branch, sourceRepository: a.source?.web_url ?? null },
    });
    return accepted([change], `merge request !${a.iid} ${a.action}`);
  }

  return accepted([], `event ${event} ignored`);
}
