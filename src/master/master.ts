// The master: the build queue (requests in the database, oldest first onto free worker slots),
// the running builds, and the operations the API exposes (force, stop, rebuild).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import type { MessageTransport } from '../protocol/connection.js';
import type { BuildRequestRecord, Storage } from '../storage/storage.js';
import { BuildRun } from './build-engine.js';
import { BuildTriggers } from './build-triggers.js';
import type { ResolvedBuilder, ResolvedConfig } from './config.js';
import { EventBus } from './events.js';
import { silentLog, systemClock } from './master-deps.js';
import type { Clock, MasterLog } from './master-deps.js';
import { mergeQueuedRequests, supersededBuilds } from './schedulers/request-merge.js';
import type { BuildRequestInput } from './schedulers/scheduler.js';
import { systemTimerClock } from './timer-clock.js';
import type { TimerClock } from './timer-clock.js';
import { WorkerRegistry } from './worker-registry.js';
import type { ConnectedWorker } from './worker-registry.js';

export interface MasterDeps {
  storage: Storage;
  config: ResolvedConfig;
  clock?: Clock;
  log?: MasterLog;
  /** Identifies this master's claims in a shared database; keep it stable across restarts. */
  masterName?: string;
  heartbeatMs?: number;
  /** The pollers' and schedulers' clock; default the real one. */
  timers?: TimerClock;
  /** A folder the master may write (the git pollers' mirrors); default a temporary one. */
  workdir?: string;
}

export interface ForceRequest {
  branch?: string | null;
  revision?: string | null;
  repository?: string | null;
  reason?: string | null;
  properties?: Record<string, unknown>;
  changeIds?: readonly number[];
}

export class Master {
  readonly events = new EventBus();
  readonly registry: WorkerRegistry;
  readonly storage: Storage;
  readonly masterName: string;
  readonly triggers: BuildTriggers;
  private readonly clock: Clock;
  private readonly log: MasterLog;
  private readonly running = new Map<number, BuildRun>();
  private readonly finishing = new Set<Promise<void>>();
  private scheduling = false;
  private scheduleAgain = false;
  private closed = false;

  constructor(private config: ResolvedConfig, deps: MasterDeps) {
    this.storage = deps.storage;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? silentLog;
    this.masterName = deps.masterName ?? 'master';
    this.registry = new WorkerRegistry({
      storage: this.storage, events: this.events, clock: this.clock, log: this.log, masterName: this.masterName,
      heartbeatMs: deps.heartbeatMs ?? 10_000,
      onCapacity: () => this.schedule(),
      onLost: () => this.schedule(),
    }, config.workers);
    this.triggers = new BuildTriggers(config, {
      storage: this.storage, events: this.events, log: this.log, clock: deps.timers ?? systemTimerClock,
      submitter: { submit: (input) => this.submitFromScheduler(input) },
      workdir: deps.workdir ?? join(tmpdir(), `keel-master-${this.masterName.replace(/[^\w.-]+/g, '_')}`),
    });
  }

  get resolvedConfig(): ResolvedConfig {
    return this.config;
  }

  /** Recovers from a previous run of this master, then starts taking requests. */
  async start(): Promise<void> {
    const ended = await this.storage.releaseMaster(this.masterName, 'retry', 'master restarted', this.clock.now());
    if (ended.length > 0) this.log.warn(`ended ${ended.length} build(s) interrupted by a master restart; their requests are queued again`);
    await this.storage.disconnectAllWorkers();
    await this.storage.syncBuilders(this.config.builders.map((b) => ({ name: b.name, description: b.description, tags: b.tags })));
    this.triggers.start();
    this.schedule();
  }

  acceptWorker(transport: MessageTransport, peer: string): void {
    if (this.closed) {
      transport.close(1001, 'master shutting down');
      return;
    }
    this.registry.accept(transport, peer);
  }

  async submit(builder: string, request: ForceRequest): Promise<number> {
    const b = this.builder(builder);
    const id = await this.storage.addBuildRequest({
      builder, repository: request.repository ?? null, branch: request.branch ?? null, revision: request.revision ?? null, reason: request.reason ?? null,
      properties: request.properties ?? {}, submittedAt: this.clock.now(), changeIds: request.changeIds ?? [],
    });
    this.events.publish({ type: 'request.added', requestId: id, builder });
    this.cancelSuperseded(b, id, request);
    this.schedule();
    return id;
  }

  private submitFromScheduler(input: BuildRequestInput): Promise<number> {
    return this.submit(input.builder, {
      repository: input.repository ?? null, branch: input.branch ?? null, revision: input.revision ?? null, reason: input.reason,
      properties: { ...input.properties, scheduler: input.scheduler, ...(input.owner !== undefined ? { owner: input.owner } : {}) },
      changeIds: input.changes.map((c) => c.id),
    });
  }

  private builder(name: string): ResolvedBuilder {
    const b = this.config.builders.find((x) => x.name === name);
    if (!b) throw new KeelError('KEEL_ERR_NOT_FOUND', `no builder named "${name}"`);
    return b;
  }

  /** Someone asked for this build (a force, a rebuild): it is never merged away. */
  private isForced(request: BuildRequestRecord): boolean {
    const scheduler = request.properties['scheduler'];
    return scheduler === 'force' || scheduler === 'rebuild' || this.triggers.schedulers.some((s) => s.name === scheduler && 'force' in s);
  }

  /** A new request of a branch stops the running builds it supersedes (builders with `cancelSuperseded: true`). */
  private cancelSuperseded(builder: ResolvedBuilder, requestId: number, request: ForceRequest): void {
    const running = [...this.running.entries()].map(([id, run]) => ({
      id, run, builder: run.request.builder, repository: run.request.repository ?? undefined,
      branch: run.request.branch ?? undefined, revision: run.request.revision ?? undefined,
    }));
    const superseded = supersededBuilds(running, {
      builder: builder.name, repository: request.repository ?? undefined, branch: request.branch ?? undefined, revision: request.revision ?? undefined,
    }, (name) => this.builder(name).cancelSuperseded);
    for (const build of superseded) {
      this.log.info(`build ${build.id} of ${builder.name} superseded by request ${requestId}: stopping it`);
      build.run.stop(`superseded by request ${requestId}`);
    }
  }

  /**
   * The queue merge rule (request-merge.ts) at claim time: the claimed request takes the newest
   * revision of the queued requests it merges with and all their changes; they complete as
   * `merged`. Only requests made by change and timed schedulers merge.
   */
  private async mergeQueued(request: BuildRequestRecord, builder: ResolvedBuilder): Promise<BuildRequestRecord> {
    if (!builder.collapse || this.isForced(request)) return request;
    const queued = (await this.storage.listQueuedRequests(builder.name)).filter((r) => !this.isForced(r));
    if (queued.length === 0) return request;
    const view = (r: BuildRequestRecord) => ({
      id: r.id, builder: r.builder, repository: r.repository ?? undefined, branch: r.branch ?? undefined,
      revision: r.revision ?? undefined, changeIds: [], properties: r.properties, record: r,
    });
    const group = mergeQueuedRequests([view(request), ...queued.map(view)]).find((g) => g.into.id === request.id || g.absorbed.some((a) => a.id === request.id));
    if (!group || group.absorbed.length === 0) return request;
    const others = [group.into, ...group.absorbed].filter((r) => r.id !== request.id).map((r) => r.id);
    const merged = await this.storage.mergeBuildRequests(request.id, others, group.into.record.revision, this.clock.now());
    for (const id of merged) this.events.publish({ type: 'request.merged', requestId: id, into: request.id, builder: builder.name });
    if (merged.length > 0) this.log.info(`request ${request.id} of ${builder.name} merged with ${merged.map((id) => `#${id}`).join(', ')}`);
    return (await this.storage.getBuildRequest(request.id)) ?? request;
  }

  /** Stops a running build (it ends CANCELLED). False if the build is not running on this master. */
  async stopBuild(buildId: number, reason: string): Promise<boolean> {
    const run = this.running.get(buildId);
    if (!run) {
      if (!(await this.storage.getBuild(buildId))) throw new KeelError('KEEL_ERR_NOT_FOUND', `no build ${buildId}`);
      return false;
    }
    run.stop(reason);
    return true;
  }

  /** Queues a new request with the same builder, source and properties as a past build. */
  async rebuild(buildId: number): Promise<number> {
    const build = await this.storage.getBuild(buildId);
    if (!build) throw new KeelError('KEEL_ERR_NOT_FOUND', `no build ${buildId}`);
    const request = await this.storage.getBuildRequest(build.requestId);
    const changes = await this.storage.listBuildChanges(build.id);
    return this.submit(build.builder, {
      repository: request?.repository ?? null, branch: request?.branch ?? null,
      // The revision the build checked out, so a rebuild of a tip build builds the same code.
      revision: request?.revision ?? (typeof build.properties['got_revision'] === 'string' ? build.properties['got_revision'] : null),
      reason: `rebuild of ${build.builder} #${build.number}`,
      properties: { ...(request?.properties ?? {}), scheduler: 'rebuild' }, changeIds: changes.map((c) => c.id),
    });
  }

  /** Starts builds while some connected worker has a free slot and a queued request fits it. */
  schedule(): void {
    if (this.closed) return;
    if (this.scheduling) {
      this.scheduleAgain = true;
      return;
    }
    this.scheduling = true;
    void this.scheduleLoop().catch((err: unknown) => this.log.error(`scheduling failed: ${err instanceof Error ? err.stack : String(err)}`))
      .finally(() => {
        this.scheduling = false;
        if (this.scheduleAgain) {
          this.scheduleAgain = false;
          this.schedule();
        }
      });
  }

  private async scheduleLoop(): Promise<void> {
    for (let progress = true; progress && !this.closed;) {
      progress = false;
      this.scheduleAgain = false;
      const workers = this.registry.all().filter((w) => w.freeSlots > 0).sort((a, b) => b.freeSlots - a.freeSlots);
      for (const worker of workers) {
        const builders = this.config.builders.filter((b) => b.workers.includes(worker.name)).map((b) => b.name);
        const claimed = await this.storage.claimBuildRequest(builders, this.masterName, this.clock.now());
        if (!claimed) continue;
        const builder = this.config.builders.find((b) => b.name === claimed.builder);
        if (!builder || this.registry.get(worker.name) !== worker || worker.freeSlots === 0 || this.closed) {
          await this.storage.unclaimBuildRequest(claimed.id);
          continue;
        }
        const request = await this.mergeQueued(claimed, builder);
        progress = true;
        this.startBuild(new BuildRun({ storage: this.storage, events: this.events, clock: this.clock, log: this.log, masterName: this.masterName }, { request, builder, worker }), worker, request.id);
      }
    }
  }

  private startBuild(run: BuildRun, worker: ConnectedWorker, requestId: number): void {
    worker.running++;
    const done = run.run().then(async (outcome) => {
      this.log.info(`build ${outcome.buildId} finished: ${outcome.result}${outcome.reason ? ` (${outcome.reason})` : ''}`);
      // A retried build's request goes back to the queue; any other result completes it.
      if (outcome.result === 'retry') await this.storage.unclaimBuildRequest(requestId);
      else await this.storage.completeBuildRequest(requestId, outcome.result, this.clock.now());
    }).catch(async (err: unknown) => {
      this.log.error(`build of request ${requestId} failed inside the master: ${err instanceof Error ? err.stack : String(err)}`);
      if (run.buildId !== undefined) await this.storage.finishBuild(run.buildId, 'exception', this.clock.now(), 'internal error').catch(() => {});
      await this.storage.completeBuildRequest(requestId, 'exception', this.clock.now()).catch(() => {});
    }).finally(() => {
      worker.running--;
      if (run.buildId !== undefined) this.running.delete(run.buildId);
      this.finishing.delete(done);
      this.schedule();
    });
    this.finishing.add(done);
    void run.created.then((id) => {
      if (this.finishing.has(done)) this.running.set(id, run);
    });
  }

  /** Disconnects the workers (their builds end RETRY and requeue) and waits for the builds to end. */
  async close(): Promise<void> {
    await this.triggers.stop();
    this.closed = true;
    this.registry.closeAll();
    await Promise.allSettled([...this.finishing]);
  }
}

export function createMaster(deps: MasterDeps): Master {
  return new Master(deps.config, deps);
}
