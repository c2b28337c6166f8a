// Helpers for test files, exported as `keel/test`. They work under plain `node --test` too:
// outside `keel test` every resource counts as enabled, as regrtest's resources do outside it.
import type { TestOptions } from 'node:test';

const RESOURCES_ENV = 'KEEL_RESOURCES';

/**
 * Whether the run enabled `resource` (`keel test -u network,cpu`, `-u all`, `-u all,-cpu`).
 */
export function resourceEnabled(resource: string): boolean {
  const spec = process.env[RESOURCES_ENV];
  if (spec === undefined) return true;
  const items = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.includes(`-${resource}`)) return false;
  return items.includes('all') || items.includes(resource);
}

/**
 * Options for test(), it() or describe() that skip the test as "resource denied" unless every
 * resource named is enabled: `test('fetches', requires('network'), async () => { … })`.
 * A file whose every test is denied this way is reported `skipped (resource denied)`.
 */
export function requires(...resources: string[]): TestOptions {
  const denied = resources.filter((r) => !resourceEnabled(r));
  if (denied.length === 0) return {};
  return { skip: `resource denied: use of the ${denied.map((r) => `'${r}'`).join(', ')} resource${denied.length > 1 ? 's' : ''} not enabled (keel test -u ${denied.join(',')})` };
}
