// What a test file changes in its process's environment: process.env, the working directory and
// the resources (handles, timers) it leaves keeping the event loop alive after its tests.

export interface EnvSnapshot {
  env: Record<string, string | undefined>;
  cwd: string;
  resources: Map<string, number>;
}

/** Handle types of stdout and stderr once opened: they are the process's, not a test's. */
function stdioHandleTypes(): string[] {
  const types: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    const handle = (stream as unknown as { _handle?: { constructor?: { name?: string } } })._handle;
    const name = handle?.constructor?.name;
    if (name === 'Pipe' || name === 'TTY') types.push(`${name}Wrap`);
  }
  return types;
}

/**
 * Active resources by type. With `withoutStdio`, the handles of stdout and stderr are left
 * out: they open on first use, so a test that merely printed is not blamed for them (opening
 * them up front would cost every test process a few milliseconds).
 */
export function countResources(withoutStdio = false): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  if (withoutStdio) {
    for (const type of stdioHandleTypes()) {
      const n = counts.get(type);
      if (n !== undefined) counts.set(type, n - 1);
    }
  }
  return counts;
}

export function takeSnapshot(): EnvSnapshot {
  return { env: { ...process.env }, cwd: process.cwd(), resources: countResources() };
}

/** Names of what changed; values of environment variables are left out, they may be secrets. */
export function envChanges(before: EnvSnapshot, resourcesNow?: Map<string, number>): string[] {
  const changes: string[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  const modified: string[] = [];
  for (const key of Object.keys(process.env)) {
    if (!(key in before.env)) added.push(key);
    else if (before.env[key] !== process.env[key]) modified.push(key);
  }
  for (const key of Object.keys(before.env)) if (!(key in process.env)) removed.push(key);
  if (added.length) changes.push(`process.env: added ${added.sort().join(', ')}`);
  if (removed.length) changes.push(`process.env: removed ${removed.sort().join(', ')}`);
  if (modified.length) changes.push(`process.env: modified ${modified.sort().join(', ')}`);
  if (process.cwd() !== before.cwd) changes.push(`working directory changed: ${before.cwd} -> ${process.cwd()}`);
  if (resourcesNow) {
    const left: string[] = [];
    for (const [type, n] of resourcesNow) {
      const extra = n - (before.resources.get(type) ?? 0);
      if (extra > 0) left.push(`${extra} ${type}`);
    }
    if (left.length) changes.push(`left active after its tests: ${left.sort().join(', ')}`);
  }
  return changes;
}
