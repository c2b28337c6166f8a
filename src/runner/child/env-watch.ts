// What a test file changes in its process's environment: process.env, the working directory and
// the resources (handles, timers) it leaves keeping the event loop alive after its tests.

export interface EnvSnapshot {
  env: Record<string, string | undefined>;
  cwd: string;
  resources: Map<string, number>;
}

export function countResources(ignore: readonly string[] = []): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  for (const type of ignore) {
    const n = counts.get(type);
    if (n !== undefined) counts.set(type, n - 1);
  }
  return counts;
}

export function takeSnapshot(): EnvSnapshot {
  // stdout and stderr open their handles on first use; open them now so that a test that
  // prints is not blamed for them.
  void process.stdout;
  void process.stderr;
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
