// Build and step results, as in Buildbot, as lower-case strings (the API's spelling) with one
// order of badness and one `worstResult`.

/**
 * From best to worst: success < warnings < skipped < failure < exception < retry < cancelled.
 * `skipped` beats `warnings` in no sense, but a build of skipped steps must not look worse than
 * a warned one; retry and cancelled are the worst because they say the build did not really run.
 */
export const RESULTS = ['success', 'warnings', 'skipped', 'failure', 'exception', 'retry', 'cancelled'] as const;

export type BuildResult = (typeof RESULTS)[number];

const rank = (r: BuildResult): number => RESULTS.indexOf(r);

export function worstResult(a: BuildResult, b: BuildResult): BuildResult {
  return rank(a) >= rank(b) ? a : b;
}
