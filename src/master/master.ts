// The master: the build queue (requests in the database, oldest first onto free worker slots),
// the running builds, and the operations the API exposes (force, stop, rebuild).
import { KeelError } from '../errors.js';
import type { MessageTransport } from '../protocol/connection.js';
import type { Storage } from '../storage/storage.js';
import { BuildRun } from './build-engine.js';
import type { ResolvedConfig } from './config.js';
import { EventBus } from './events.js';
import { silentLog, systemClock } from './master-deps.js';
import type { Clock, MasterLog } from './master-deps.js';
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
}

export interface ForceRequest {
  branch?: string | null;
  revision?: string | null;
  reason?: string | null;
  properties?: Record<string, unknown>;
}

export class Master {
  readonly events = new EventBus();
  readonly registry: WorkerRegistry;
  readonly storage: Storage;
  readonly masterName: string;
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
    if (!this.config.builders.some((b) => b.name === builder)) throw new KeelError('KEEL_ERR_NOT_FOUND', `no builder named "${builder}"`);
    const id = await this.storage.addBuildRequest({
      builder, branch: request.branch ?? null, revision: request.revision ?? null, reason: request.reason ?? null,
      properties: request.properties ?? {}, submittedAt: this.clock.now(),
    });
    this.events.publish({ type: 'request.added', requestId: id, builder });
    this.schedule();
    return id;
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
    return this.submit(build.builder, {
      branch: request?.branch ?? null, revision: request?.revision ?? null,
      reason: `rebuild of ${build.builder} #${build.number}`, properties: request?.properties ?? {},
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
        const request = await this.storage.claimBuildRequest(builders, this.masterName, this.clock.now());
        if (!request) continue;
        const builder = this.config.builders.find((b) => b.name === request.builder);
        if (!builder || this.registry.get(worker.name) !== worker || worker.freeSlots === 0 || this.closed) {
          await this.storage.unclaimBuildRequest(request.id);
          continue;
        }
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
    this.closed = true;
    this.registry.closeAll();
    await Promise.allSettled([...this.finishing]);
  }
}

export function createMaster(deps: MasterDeps): Master {
  return new Master(deps.config, deps);
}
