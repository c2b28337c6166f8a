// The git poller: watches branches of any repository the git CLI can reach and reports each new
// commit once, as Buildbot's GitPoller does, keeping a bare mirror under the master's work dir.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { KeelError } from '../../errors.js';
import type { MasterLog } from '../master-deps.js';
import type { CancelTimer, TimerClock } from '../timer-clock.js';
import type { Change } from './change.js';

/**
 * Where the poller keeps what it has seen. The storage implements it (see
 * docs/changes-and-schedulers.md); memoryChangeSink() is the in-process one.
 *
 * Lifecycle: the poller reads `lastRevisions` before every poll (so a restarted master, or
 * another master, goes on where the last poll stopped) and calls `record` once per poll that
 * found anything new. `record` must store the changes and the new tips together, in one
 * transaction: a crash between the two would either lose changes or report them twice. The
 * poller never calls either method concurrently for one repository.
 */
export interface ChangeSink {
  /** Branch → tip the poller last recorded for this repository; undefined if it never polled it. */
  lastRevisions(repository: string): Promise<Record<string, string> | undefined>;
  /**
   * Stores the new changes (oldest first) and replaces the branch tips with `revisions`, if the
   * tips are still `previous` (what lastRevisions gave before this poll): when another master
   * polling the same repository recorded first, it stores nothing and rejects
   * (KEEL_ERR_CONFLICT), and the next poll starts from that master's tips.
   */
  record(repository: string, changes: Change[], revisions: Record<string, string>, previous: Record<string, string> | undefined): Promise<void>;
}

export interface GitPollerOptions {
  /** Anything `git ls-remote` takes: a URL, or a local path (tests). */
  repo: string;
  /**
   * Branch names to watch, `'all'`, or a predicate on the branch name. Without it the poller
   * watches the branch the remote's HEAD points at.
   */
  branches?: string[] | 'all' | ((branch: string) => boolean);
  /** Seconds between the end of one poll and the start of the next; default 60. */
  interval?: number;
  category?: string;
  project?: string;
  /** The web page of a revision; github.com and gitlab.com URLs get one by default. */
  revlink?: (revision: string) => string | undefined;
  /** At most this many new commits per branch per poll, the newest; default 200. */
  maxChangesPerBranch?: number;
}

export interface GitPollerDeps {
  sink: ChangeSink;
  clock: TimerClock;
  log: MasterLog;
  /** A folder the poller may write; its bare mirrors go in `<workdir>/git-poller/`. */
  workdir: string;
  /** The git executable; default `git` from PATH. */
  git?: string;
}

export type PollOutcome = { ok: true; changes: number } | { ok: false; error: KeelError };

export interface GitPoller {
  readonly repo: string;
  /** One poll now. Never rejects: a failure is logged and returned. Overlapping calls share one poll. */
  poll(): Promise<PollOutcome>;
  /** Polls at once, then `interval` seconds after each poll ends. */
  start(): void;
  /** Cancels the next poll and waits for a running one to end. */
  stop(): Promise<void>;
}

const GIT_TIMEOUT_MS = 5 * 60_000;

export function gitPoller(options: GitPollerOptions, deps: GitPollerDeps): GitPoller {
  const interval = options.interval ?? 60;
  if (!(interval > 0)) throw new KeelError('KEEL_ERR_SCHEDULER_INVALID', `gitPoller: interval must be a positive number of seconds, got ${interval}`);
  const maxPerBranch = options.maxChangesPerBranch ?? 200;
  const repo = options.repo;
  const mirror = path.join(deps.workdir, 'git-poller', mirrorName(repo));
  const gitBin = deps.git ?? 'git';
  const revlink = options.revlink ?? defaultRevlink(repo);
  let running: Promise<PollOutcome> | undefined;
  let cancel: CancelTimer | undefined;
  let stopped = true;
  let failing = false;

  const git = (args: string[], cwd?: string): Promise<string> => runGit(gitBin, args, cwd);

  /** True when the mirror had to be made (first poll, or a work dir wiped since). */
  async function ensureMirror(): Promise<boolean> {
    if (existsSync(path.join(mirror, 'HEAD'))) return false;
    await mkdir(mirror, { recursive: true });
    await git(['init', '--bare', '--quiet', mirror]);
    return true;
  }

  async function hasCommit(sha: string): Promise<boolean> {
    return git(['cat-file', '-e', `${sha}^{commit}`], mirror).then(() => true, () => false);
  }

  async function remoteTips(): Promise<Record<string, string>> {
    // A local path that is not there gets a plain message; git would say much less, and leave
    // behind the shell it started for upload-pack.
    if (isLocalPath(repo) && !existsSync(repo)) throw new KeelError('KEEL_ERR_GIT_POLL', `${repo} does not exist`);
    const watch = options.branches;
    const args = ['ls-remote', ...(watch === undefined ? ['--symref'] : []), repo, ...(watch === undefined ? ['HEAD'] : []), 'refs/heads/*'];
    const out = await git(args);
    const tips: Record<string, string> = {};
    let headBranch: string | undefined;
    for (const line of out.split('\n')) {
      const sym = /^ref: refs\/heads\/(\S+)\tHEAD$/.exec(line);
      if (sym) { headBranch = sym[1]; continue; }
      const m = /^([0-9a-f]{40,64})\trefs\/heads\/(.+)$/.exec(line);
      if (m) tips[m[2]!] = m[1]!;
    }
    const keep = (branch: string): boolean => {
      if (watch === undefined) return branch === headBranch;
      if (watch === 'all') return true;
      if (typeof watch === 'function') return watch(branch);
      return watch.includes(branch);
    };
    if (watch === undefined && headBranch === undefined && Object.keys(tips).length > 0) {
      throw new KeelError('KEEL_ERR_GIT_POLL', `cannot tell which branch HEAD of ${redact(repo)} points at; name the branches to watch`);
    }
    return Object.fromEntries(Object.entries(tips).filter(([branch]) => keep(branch)));
  }

  async function newCommits(tip: string, exclude: string[], branch: string): Promise<Change[]> {
    const out = await git(['log', '-z', '--name-only', '--diff-merges=first-parent', '--ignore-missing',
      `--max-count=${maxPerBranch}`, '--reverse', `--format=${LOG_FORMAT}`, tip, ...exclude.map((sha) => `^${sha}`), '--'], mirror);
    return parseLog(out).map((commit) => toChange(commit, branch));
  }

  async function tipChange(tip: string, branch: string): Promise<Change> {
    const out = await git(['log', '-z', '--name-only', '--diff-merges=first-parent', '--max-count=1', `--format=${LOG_FORMAT}`, tip, '--'], mirror);
    const commit = parseLog(out)[0];
    if (!commit) throw new KeelError('KEEL_ERR_GIT_POLL', `git log showed nothing for ${tip} of ${branch}`);
    return toChange(commit, branch);
  }

  function toChange(commit: LoggedCommit, branch: string): Change {
    const change: Change = {
      repository: repo, branch, revision: commit.sha, author: commit.author, committer: commit.committer,
      time: commit.time, message: commit.message, files: commit.files, source: 'poller',
    };
    const link = revlink?.(commit.sha);
    if (link) change.link = link;
    if (options.category) change.category = options.category;
    if (options.project) change.project = options.project;
    return change;
  }

  async function pollOnce(): Promise<number> {
    const previous = await deps.sink.lastRevisions(repo);
    const tips = await remoteTips();
    const moved = Object.entries(tips).filter(([branch, sha]) => previous?.[branch] !== sha);
    const deleted = previous ? Object.keys(previous).filter((branch) => !(branch in tips)) : [];
    if (moved.length === 0 && deleted.length === 0 && previous) return 0;

    const changes: Change[] = [];
    if (moved.length > 0) {
      const fresh = await ensureMirror();
      // The moved branches are fetched (all watched ones into a new mirror, so the tips already
      // reported are there to exclude), into a namespace of our own so that a branch named like
      // one of git's own refs cannot clash; --force because branches may be rewritten.
      const fetched = fresh ? Object.keys(tips) : moved.map(([branch]) => branch);
      await git(['fetch', '--quiet', '--no-tags', '--force', '--no-write-fetch-head', repo,
        ...fetched.map((branch) => `+refs/heads/${branch}:refs/keel/${branch}`)], mirror);
      // Everything reachable from a tip already recorded was already reported, on whichever
      // branch: a merge of a known branch reports only the merge, a new branch only its own work.
      const known = [...new Set(Object.values(previous ?? {}))];
      for (const [branch, tip] of moved) {
        if (!previous || known.length === 0) {
          // First poll (or a repository that was empty until now): the tips, not the history.
          changes.push(await tipChange(tip, branch));
          continue;
        }
        const before = previous[branch];
        if (before !== undefined && !(await hasCommit(before))) {
          // The old tip is in neither the mirror nor the new history: the branch was rewritten
          // while the mirror was away. What is new cannot be told, so the tip stands for it.
          changes.push(await tipChange(tip, branch));
          continue;
        }
        const found = await newCommits(tip, known, branch);
        if (found.length > 0) changes.push(...found);
        else if (!(branch in previous)) changes.push(await tipChange(tip, branch));  // a new branch at a known commit is a push worth building
        // A known branch moved to commits already reported (reset, force-push back): new tip, no change.
      }
    }
    await deps.sink.record(repo, changes, tips, previous);
    return changes.length;
  }

  function poll(): Promise<PollOutcome> {
    running ??= pollOnce().then(
      (count): PollOutcome => {
        if (failing) deps.log.info(`git poller: ${redact(repo)} reachable again`);
        failing = false;
        if (count > 0) deps.log.info(`git poller: ${count} new change(s) in ${redact(repo)}`);
        return { ok: true, changes: count };
      },
      (err: unknown): PollOutcome => {
        const error = err instanceof KeelError ? err
          : new KeelError('KEEL_ERR_GIT_POLL', `polling ${redact(repo)} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        // Another master recorded first: not a failure of this repository, just a lost race.
        if (error.code === 'KEEL_ERR_CONFLICT') deps.log.info(`git poller: ${error.message}`);
        else {
          failing = true;
          deps.log.warn(`git poller: ${error.message}; trying again in ${interval}s`);
        }
        return { ok: false, error };
      },
    ).finally(() => {
      running = undefined;
      if (!stopped) cancel = deps.clock.setTimer(interval * 1000, () => { void poll(); });
    });
    return running;
  }

  return {
    repo,
    poll,
    start() {
      if (!stopped) return;
      stopped = false;
      void poll();
    },
    async stop() {
      stopped = true;
      cancel?.();
      cancel = undefined;
      await running;
    },
  };
}

/** One commit as `git log` printed it with LOG_FORMAT. */
interface LoggedCommit { sha: string; author: string; committer: string; time: number; message: string; files: string[] }

// Record separator before each commit, unit separators between fields; with -z the file names
// after the format are NUL-separated, so any byte but NUL may appear in a name.
const LOG_FORMAT = '%x1e%H%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%ct%x1f%B%x1f';

function parseLog(out: string): LoggedCommit[] {
  const commits: LoggedCommit[] = [];
  for (const record of out.split('\x1e')) {
    if (record === '') continue;
    const [sha, an, ae, cn, ce, ct, body, rest] = record.split('\x1f');
    if (!sha || rest === undefined) continue;
    const files = rest.split('\0').map((name, i) => (i === 1 && name.startsWith('\n') ? name.slice(1) : name)).filter((name) => name !== '');
    commits.push({
      sha, author: person(an, ae), committer: person(cn, ce), time: Number(ct) * 1000,
      message: (body ?? '').replace(/\n+$/, ''), files,
    });
  }
  return commits;
}

function person(name: string | undefined, email: string | undefined): string {
  return name && email ? `${name} <${email}>` : name || email || '';
}

function runGit(gitBin: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // No automatic gc or maintenance: git would run it detached after a fetch, a process that
    // outlives the poll and works on the mirror behind the poller's back.
    execFile(gitBin, ['-c', 'gc.auto=0', '-c', 'maintenance.auto=false', ...args], {
      cwd, maxBuffer: 256 * 1024 * 1024, timeout: GIT_TIMEOUT_MS, encoding: 'utf8',
      // Never wait on a password prompt or an SSH host-key question: fail and retry later.
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes', LC_ALL: 'C' },
    }, (err, stdout, stderr) => {
      if (err) {
        const detail = (stderr || err.message).trim().split('\n').slice(-3).join(' / ');
        reject(new KeelError('KEEL_ERR_GIT_POLL', `git ${args[0]} failed: ${redact(detail)}`, { cause: err }));
      } else resolve(stdout);
    });
  });
}

/** Not a URL (`scheme://`) nor scp-like (`host:path`): git reads it as a local path. */
function isLocalPath(repo: string): boolean {
  return !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(repo) && !/^[^/:]+:/.test(repo);
}

/** A folder name per repository: readable, and unique through the hash. */
function mirrorName(repo: string): string {
  const readable = repo.replace(/^[a-z]+:\/\//i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+/, '').slice(-60);
  return `${readable}-${createHash('sha256').update(repo).digest('hex').slice(0, 12)}.git`;
}

/** Hides a password in a URL before it reaches a log. */
function redact(text: string): string {
  return text.replace(/(\/\/[^/\s:@]+):[^@\s/]+@/g, '$1:***@');
}

function defaultRevlink(repo: string): ((revision: string) => string) | undefined {
  const m = /^https:\/\/(github\.com|gitlab\.com)\/(.+?)(?:\.git)?\/?$/.exec(repo);
  if (!m) return undefined;
  const base = `https://${m[1]}/${m[2]}`;
  return m[1] === 'github.com' ? (sha) => `${base}/commit/${sha}` : (sha) => `${base}/-/commit/${sha}`;
}
