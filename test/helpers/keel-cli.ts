// Runs the real `keel` command (the compiled bin) in a child process, on suites of test files
// written to fresh temporary directories.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from build/test/helpers/. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const keelBin = path.join(repoRoot, 'build/src/cli/main.js');

export interface KeelResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Writes `files` (relative path → content) under a new temporary directory and returns it. */
export function makeSuite(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'keel-suite-'));
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}

export function removeSuite(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function startKeel(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  // Under keel test or node --test these are set for our own process, not for the keel we start.
  delete childEnv.NODE_TEST_CONTEXT;
  delete childEnv.KEEL_CHANNEL_FD;
  delete childEnv.KEEL_RESOURCES;
  return spawn(process.execPath, [keelBin, ...args], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess): Promise<KeelResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function runKeel(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<KeelResult> {
  return collect(startKeel(args, cwd, env));
}

/** The two closing lines of a run. */
export function closingLines(stdout: string): { result: string | undefined; tests: string | undefined } {
  return {
    result: /^Result: (.*)$/m.exec(stdout)?.[1],
    tests: /^Tests: (.*)$/m.exec(stdout)?.[1],
  };
}
