// The queue policy as pure functions: which queued build requests merge into one build, and
// which running builds a new request supersedes. The build queue applies them when it claims.

/** What the policy needs to know of a queued request; the queue's own record has more. */
export interface QueuedRequestView {
  id: number;
  builder: string;
  repository?: string;
  branch?: string;
  revision?: string;
  /** Ids of the request's changes. */
  changeIds: number[];
  /** A forced build's parameters and the like; requests merge only when these are equal. */
  properties?: Record<string, unknown>;
}

export interface MergeGroup<R extends QueuedRequestView> {
  /** The newest request of the group: the build runs its revision. */
  into: R;
  /** Older requests the build also answers: mark them merged into `into`. Empty when alone. */
  absorbed: R[];
  /** Every change of the group, once, by id. */
  changeIds: number[];
}

/** Properties a scheduler sets on every request; they differ without making requests different. */
const IGNORED_PROPERTIES = new Set(['scheduler', 'reason', 'owner']);

/**
 * Groups queued requests: those of the same builder, repository and branch, with equal
 * properties, merge (the newest revision wins, the changes are united), unless `collapse` says
 * false for the builder (its `collapse: false`). Groups come oldest first, by their oldest request.
 */
export function mergeQueuedRequests<R extends QueuedRequestView>(queued: readonly R[], collapse: (builder: string) => boolean = () => true): MergeGroup<R>[] {
  const groups = new Map<string, R[]>();
  for (const request of [...queued].sort((a, b) => a.id - b.id)) {
    const key = collapse(request.builder)
      ? JSON.stringify([request.builder, request.repository ?? null, request.branch ?? null, propertiesKey(request.properties)])
      : `#${request.id}`;
    const group = groups.get(key);
    if (group) group.push(request);
    else groups.set(key, [request]);
  }
  return [...groups.values()].map((members) => ({
    into: members[members.length - 1]!,
    absorbed: members.slice(0, -1),
    changeIds: [...new Set(members.flatMap((m) => m.changeIds))].sort((a, b) => a - b),
  }));
}

function propertiesKey(properties: Record<string, unknown> | undefined): string {
  const kept = Object.entries(properties ?? {}).filter(([k]) => !IGNORED_PROPERTIES.has(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(kept);
}

export interface RunningBuildView {
  id: number;
  builder: string;
  repository?: string;
  branch?: string;
  revision?: string;
}

/**
 * The running builds a new request makes pointless when the builder sets `cancelSuperseded: true`:
 * the same builder, repository and branch, at another revision. A request with no branch (a
 * periodic build of the default branch) supersedes nothing.
 */
export function supersededBuilds<B extends RunningBuildView>(running: readonly B[], request: Omit<RunningBuildView, 'id'>, cancelSuperseded: (builder: string) => boolean): B[] {
  if (!cancelSuperseded(request.builder) || request.branch === undefined) return [];
  return running.filter((build) => build.builder === request.builder && build.branch === request.branch
    && (build.repository ?? null) === (request.repository ?? null) && build.revision !== request.revision);
}
