// Finds a test step's report files (JUnit XML …) by the step's globs, inside its workdir only,
// and reads them for upload: size-limited, never outside the workdir, never through a symlink.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import { REPORT_MAX_BYTES, REPORT_MAX_FILES } from '../protocol/messages.js';

/** A report to send: its bytes, or why it is not sent. */
export type ReportFile = { path: string; data: Buffer } | { path: string; skipped: string };

/** Directory entries looked at, at most: a glob like `**` over a huge tree must not hang the worker. */
const MAX_ENTRIES = 20_000;
const MAX_DEPTH = 20;

/** `*` within a path segment, `**` for any number of segments, `?` for one character. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  const parts = glob.split('/');
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    if (part === '**') {
      re += last ? '.*' : '(?:[^/]+/)*';
      return;
    }
    for (const ch of part) {
      if (ch === '*') re += '[^/]*';
      else if (ch === '?') re += '[^/]';
      else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    if (!last) re += '/';
  });
  return new RegExp(`^${re}$`);
}

/** Regular files under `root`, as relative paths with `/`; symbolic links are neither followed nor listed. */
function listFiles(root: string): string[] {
  const out: string[] = [];
  let seen = 0;
  const walk = (dir: string, rel: string, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (++seen > MAX_ENTRIES) return;
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(join(dir, e.name), path, depth + 1);
      else if (e.isFile()) out.push(path);
    }
  };
  walk(root, '', 0);
  return out.sort();
}

/**
 * The files of `cwd` that `globs` match, each read if it is at most `maxBytes`. A glob that is
 * absolute or climbs out with `..` matches nothing and is reported as skipped, as is a matching
 * symbolic link (it could point anywhere). Never throws: an unreadable file is skipped with why.
 */
export function collectReports(cwd: string, globs: readonly string[], maxBytes = REPORT_MAX_BYTES, maxFiles = REPORT_MAX_FILES): ReportFile[] {
  const out: ReportFile[] = [];
  const patterns: RegExp[] = [];
  for (const glob of globs) {
    const g = glob.replaceAll('\\', '/').replace(/^(?:\.\/)+/, '');
    if (isAbsolute(glob) || /^[A-Za-z]:/.test(g) || g.split('/').includes('..')) {
      out.push({ path: glob, skipped: 'outside the step\'s workdir' });
      continue;
    }
    patterns.push(globToRegExp(g));
  }
  if (patterns.length === 0) return out;
  let sent = 0;
  for (const path of listFiles(cwd)) {
    if (!patterns.some((p) => p.test(path))) continue;
    if (sent >= maxFiles) {
      out.push({ path, skipped: `more than ${maxFiles} report files` });
      continue;
    }
    const full = join(cwd, ...path.split('/'));
    try {
      const stat = lstatSync(full);
      if (!stat.isFile() || !full.startsWith(cwd.endsWith(sep) ? cwd : cwd + sep)) {
        out.push({ path, skipped: 'not a regular file inside the workdir' });
      } else if (stat.size > maxBytes) {
        out.push({ path, skipped: `${stat.size} bytes, more than the ${maxBytes} a report may have` });
      } else {
        out.push({ path, data: readFileSync(full) });
        sent++;
      }
    } catch (err) {
      out.push({ path, skipped: `cannot read it: ${(err as Error).message}` });
    }
  }
  return out;
}
