// Finding test files and choosing which of them run, in which order.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { KeelError } from '../errors.js';
import type { TestFile } from './test-process.js';

const TEST_FILE = /^(?:(.+)\.test\.(?:js|mjs|cjs|ts|mts)|(test_.+)\.(?:js|mjs|ts))$/;

/** The test's name for a file under the test directory, or null when it is not a test file. */
export function testNameOf(relativePath: string): string | null {
  const base = path.posix.basename(relativePath);
  const m = TEST_FILE.exec(base);
  if (!m) return null;
  const dir = path.posix.dirname(relativePath);
  const stem = m[1] ?? m[2]!;
  return dir === '.' ? stem : `${dir}/${stem}`;
}

export function discoverTests(testDir: string): TestFile[] {
  let stat;
  try {
    stat = statSync(testDir);
  } catch (err) {
    throw new KeelError('KEEL_ERR_TESTDIR_NOT_FOUND', `test directory not found: ${testDir}`, { cause: err });
  }
  if (!stat.isDirectory()) throw new KeelError('KEEL_ERR_TESTDIR_NOT_FOUND', `not a directory: ${testDir}`);
  const found: TestFile[] = [];
  const walk = (dir: string, rel: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path.join(dir, entry.name), relPath);
      else if (entry.isFile()) {
        const name = testNameOf(relPath);
        if (name) found.push({ name, path: path.join(dir, entry.name) });
      }
    }
  };
  walk(testDir, '');
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Names listed one per line; blank lines and `#` comments are ignored, as regrtest does. A `#`
 * starts a comment at the start of a line or after a space, so a glob can say `[#]`.
 */
export function readNameList(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KeelError('KEEL_ERR_FROMFILE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|\s)#.*/, '').trim())
    .filter(Boolean);
}

function normaliseName(name: string): string {
  const slashed = name.replace(/\\/g, '/').replace(/^\.\//, '');
  return testNameOf(slashed) ?? slashed;
}

export interface Selection {
  names: string[];
  exclude: boolean;
}

/**
 * Keeps the files named (or all of them with no names), or with `exclude` all but those.
 * A name also selects every test under it when it names a folder (`core` selects `core/parser`).
 */
export function selectTests(all: TestFile[], sel: Selection): TestFile[] {
  if (sel.names.length === 0) {
    if (sel.exclude) throw new KeelError('KEEL_ERR_USAGE', '-x/--exclude needs the names of the tests to leave out');
    return all;
  }
  const wanted = sel.names.map(normaliseName);
  const matches = (file: TestFile, name: string) => file.name === name || file.name.startsWith(name + '/');
  if (sel.exclude) return all.filter((f) => !wanted.some((n) => matches(f, n)));
  const unknown = wanted.filter((n) => !all.some((f) => matches(f, n)));
  if (unknown.length) {
    throw new KeelError('KEEL_ERR_TEST_NOT_FOUND', `no test file matches: ${unknown.join(', ')}`);
  }
  // Keep the order given on the command line, as regrtest does; each file once.
  const out: TestFile[] = [];
  const seen = new Set<string>();
  for (const n of wanted) {
    for (const f of all) {
      if (matches(f, n) && !seen.has(f.name)) {
        seen.add(f.name);
        out.push(f);
      }
    }
  }
  return out;
}

export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count) {
    throw new KeelError('KEEL_ERR_BAD_PATTERN', `--shard expects K/N with 1 <= K <= N, got ${JSON.stringify(text)}`);
  }
  return { index, count };
}

/** The K-th of N slices; every file lands in exactly one slice, whatever the order given. */
export function shardTests(files: TestFile[], shard: { index: number; count: number }): TestFile[] {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : 1));
  const keep = new Set(sorted.filter((_, i) => i % shard.count === shard.index - 1).map((f) => f.name));
  return files.filter((f) => keep.has(f.name));
}

/** mulberry32: small, fast, and the same sequence on every platform for a given seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: readonly T[], seed: number): T[] {
  const rand = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
