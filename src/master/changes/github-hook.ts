// The GitHub webhook handler (/hooks/github): push, pull_request and ping events, signed with
// X-Hub-Signature-256, in the manner of Buildbot's www/hooks/github.py.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { formatPerson, type Change } from './change.js';
import {
  accepted, badRequest, checkBody, decodeBody, DEFAULT_SKIP_PATTERNS, header, secretsEqual, skipped, timeOf,
  unauthorized, withOptional, ZERO_SHA, type WebhookHeaders, type WebhookResult,
} from './webhook-request.js';

export interface GithubHookOptions {
  /** The webhook's secret; when set, every request must carry a valid X-Hub-Signature-256. */
  secret?: string;
  /** Which ref a pull request builds: the test merge with its base (default) or its head. */
  pullRequestRef?: 'merge' | 'head';
  /** A head commit (or pull request title) matching one of these starts nothing. */
  skipPatterns?: readonly RegExp[];
  category?: string;
  /** Epoch ms, for changes whose payload gives no time. */
  now?: () => number;
}

/** The X-Hub-Signature-256 value GitHub sends for a body signed with a secret. */
export function githubSignature(secret: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

const person = z.object({ name: z.string().optional(), email: z.string().nullish(), username: z.string().optional() });
const repository = z.object({ html_url: z.string(), full_name: z.string().optional() });
const commit = z.object({
  id: z.string().min(1),
  message: z.string().default(''),
  timestamp: z.string().optional(),
  url: z.string().optional(),
  author: person.optional(),
  committer: person.optional(),
  added: z.array(z.string()).default([]),
  removed: z.array(z.string()).default([]),
  modified: z.array(z.string()).default([]),
});
const pushEvent = z.object({
  ref: z.string().regex(/^refs\//, 'a ref starts with refs/'),
  after: z.string().min(1),
  deleted: z.boolean().optional(),
  commits: z.array(commit).default([]),
  head_commit: commit.nullish(),
  repository,
});
const pullRequestEvent = z.object({
  action: z.string(),
  number: z.number().int().positive(),
  changes: z.object({ base: z.unknown().optional() }).optional(),
  pull_request: z.object({
    title: z.string().default(''),
    body: z.string().nullish(),
    html_url: z.string().optional(),
    draft: z.boolean().optional(),
    user: z.object({ login: z.string() }).optional(),
    head: z.object({ sha: z.string().min(1), ref: z.string(), repo: repository.nullish() }),
    base: z.object({ ref: z.string(), sha: z.string().optional() }),
  }),
  repository,
});

/** Pull request actions that bring new code to build; `edited` only when the base changed. */
const BUILD_ACTIONS = new Set(['opened', 'reopened', 'synchronize', 'ready_for_review']);

export function handleGithubHook(headers: WebhookHeaders, rawBody: Buffer | string, options: GithubHookOptions = {}): WebhookResult {
  // The signature covers the exact bytes received, so it is checked before anything is parsed.
  if (options.secret !== undefined) {
    const signature = header(headers, 'x-hub-signature-256');
    if (!signature) return unauthorized('missing X-Hub-Signature-256 header');
    if (!secretsEqual(signature, githubSignature(options.secret, rawBody))) return unauthorized('X-Hub-Signature-256 does not match the body');
  }
  const event = header(headers, 'x-github-event');
  if (!event) return badRequest('missing X-GitHub-Event header');
  const body = decodeBody(headers, rawBody);
  if (!body.ok) return body.result;
  const now = options.now ?? Date.now;
  const skipPatterns = options.skipPatterns ?? DEFAULT_SKIP_PATTERNS;

  if (event === 'ping') return accepted([], 'pong');

  if (event === 'push') {
    const push = checkBody(pushEvent, body.value, 'push event');
    if (!push.ok) return push.result;
    const p = push.value;
    if (p.deleted || ZERO_SHA.test(p.after)) return accepted([], `${p.ref} deleted`);
    const skip = skipped(p.head_commit?.message, skipPatterns);
    if (skip) return accepted([], `skipped: the head commit says ${skip.source}`);
    const isTag = p.ref.startsWith('refs/tags/');
    const branch = p.ref.startsWith('refs/heads/') ? p.ref.slice('refs/heads/'.length) : p.ref;
    // A push of commits already in the repository (a new branch at a known commit, a
    // force-push back) lists no commits; its head commit is what to build.
    const commits = p.commits.length > 0 ? p.commits : p.head_commit ? [p.head_commit] : [];
    const changes = commits.map((c): Change => withOptional({
      repository: p.repository.html_url, branch, revision: c.id,
      author: formatPerson(c.author?.name, c.author?.email ?? undefined),
      committer: c.committer ? formatPerson(c.committer.name, c.committer.email ?? undefined) : undefined,
      time: timeOf(c.timestamp, now), message: c.message,
      files: [...c.added, ...c.modified, ...c.removed], link: c.url,
      category: isTag ? 'tag' : options.category, source: 'github', project: p.repository.full_name,
    }));
    return accepted(changes, `${changes.length} change(s) on ${p.ref}`);
  }

  if (event === 'pull_request') {
    const pr = checkBody(pullRequestEvent, body.value, 'pull_request event');
    if (!pr.ok) return pr.result;
    const p = pr.value;
    const baseChanged = p.action === 'edited' && p.changes?.base !== undefined;
    if (!BUILD_ACTIONS.has(p.action) && !baseChanged) return accepted([], `pull request action ${p.action} ignored`);
    const skip = skipped(p.pull_request.title, skipPatterns);
    if (skip) return accepted([], `skipped: the pull request title says ${skip.source}`);
    const head = p.pull_request.head;
    const change: Change = withOptional({
      repository: p.repository.html_url,
      branch: `refs/pull/${p.number}/${options.pullRequestRef ?? 'merge'}`,
      // The head commit: the one a commit status is reported on. The merge ref's own commit is
      // made by GitHub later and may change with the base; the build fetches the ref.
      revision: head.sha,
      author: p.pull_request.user?.login ?? '',
      time: now(),
      message: `#${p.number}: ${p.pull_request.title}${p.pull_request.body ? `\n\n${p.pull_request.body}` : ''}`,
      files: [], link: p.pull_request.html_url, category: options.category ?? 'pull-request', source: 'github',
      project: p.repository.full_name,
      properties: {
        pullRequest: p.number, headSha: head.sha, headBranch: head.ref, headRepository: head.repo?.html_url ?? null,
        baseBranch: p.pull_request.base.ref,
      },
    });
    return accepted([change], `pull request #${p.number} ${p.action}`);
  }

  return accepted([], `event ${event} ignored`);
}
