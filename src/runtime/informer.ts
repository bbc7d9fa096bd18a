// A list+watch cache that keeps running. client-node's informer relists by itself only on 410 Gone;
// on any other error it emits 'error' and stops for good. ResilientInformer runs it in
// "generations": when one fails (or its watch goes silent) it is discarded and, after a jittered
// backoff, a fresh one starts with a full list. The cache and the handlers live here, across
// generations, so objects deleted while the watch was down still produce a 'delete' event, and
// objects that did not change do not produce a spurious 'add' or 'update'.
import {
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ListPromise,
  makeInformer,
} from '@kubernetes/client-node';
import { type Clock, type TimerHandle, realClock } from './clock.js';
import { type Logger, logger as rootLogger } from './logger.js';
import { informerRestartsTotal } from './metrics.js';
import { backoffDelay } from './workqueue.js';

/** Builds the underlying client-node informer for one generation (makeInformer's signature minus the KubeConfig). */
export type InformerFactory<T extends KubernetesObject> = (
  path: string,
  list: ListPromise<T>,
  labelSelector?: string,
) => Informer<T>;

export interface ResilientInformerOptions<T extends KubernetesObject> {
  /** Resource name for logs and the informer_restarts_total metric, e.g. "directorysyncs". */
  resource: string;
  /** Watch path, e.g. "/apis/idpsync.io/v1alpha1/directorysyncs". */
  path: string;
  /** Lists the resource (same scope and selector as the watch). */
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  /** Used to build client-node informers; required unless `createInformer` is given. */
  kubeConfig?: KubeConfig;
  /** Replaces makeInformer (tests). */
  createInformer?: InformerFactory<T>;
  clock?: Clock;
  logger?: Logger;
  /** First restart delay after a failure (default 1 s); doubles per consecutive failure. */
  minBackoffMs?: number;
  /** Longest restart delay (default 30 s). */
  maxBackoffMs?: number;
  /** A generation that ran this long before failing restarts with the minimum backoff again (default 2 min). */
  backoffResetMs?: number;
  /**
   * Asks the apiserver to end each watch after this many seconds (randomised up to 2x per generation,
   * like client-go); the informer then re-watches from its resourceVersion. 0 disables. Default 300.
   */
  watchTimeoutSeconds?: number;
  /**
   * Restart when neither an event nor a reconnect was seen for this long (a hung connection).
   * Default: twice the longest watch timeout plus a minute; 0 disables.
   */
  stallTimeoutMs?: number;
  /** Random source in [0, 1) for jitter (tests). */
  random?: () => number;
}

type ObjectHandler<T> = (obj: T) => void;
type UpdateHandler<T> = (obj: T, old: T) => void;

/** Cache key of an object: "namespace/name", or "name" for cluster-scoped objects. */
export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

/** Appends `timeoutSeconds` to a watch path. */
export function withWatchTimeout(path: string, seconds: number): string {
  return `${path}${path.includes('?') ? '&' : '?'}timeoutSeconds=${seconds}`;
}

/** A list+watch cache of one resource that restarts itself after errors and stalled watches. */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly opts: ResilientInformerOptions<T>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly createInformer: InformerFactory<T>;
  private readonly watchTimeoutSeconds: number;
  private readonly stallTimeoutMs: number;

  private readonly cache = new Map<string, T>();
  private readonly handlers = {
    add: [] as ObjectHandler<T>[],
    update: [] as UpdateHandler<T>[],
    delete: [] as ObjectHandler<T>[],
  };
  private readonly syncWaiters: Array<() => void> = [];

  private generation = 0;
  private current?: Informer<T>;
  private generationStartedAt = 0;
  private lastActivity = 0;
  private consecutiveFailures = 0;
  private restartCount = 0;
  private synced = false;
  private running = false;
  private restartTimer?: TimerHandle;
  private stallTimer?: TimerHandle;

  constructor(options: ResilientInformerOptions<T>) {
    this.opts = options;
    this.clock = options.clock ?? realClock;
    this.log = (options.logger ?? rootLogger).child({ component: 'informer', resource: options.resource });
    this.random = options.random ?? Math.random;
    const { kubeConfig, createInformer } = options;
    if (createInformer) this.createInformer = createInformer;
    else if (kubeConfig) this.createInformer = (path, list, sel) => makeInformer(kubeConfig, path, list, sel);
    else throw new Error('ResilientInformer needs kubeConfig or createInformer');
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.stallTimeoutMs =
      options.stallTimeoutMs ?? (this.watchTimeoutSeconds > 0 ? (4 * this.watchTimeoutSeconds + 60) * 1000 : 0);
  }

  /** Registers a handler; handlers registered before `start` see an 'add' for every listed object. */
  on(event: 'add' | 'delete', handler: ObjectHandler<T>): void;
  on(event: 'update', handler: UpdateHandler<T>): void;
  on(event: 'add' | 'update' | 'delete', handler: ObjectHandler<T> | UpdateHandler<T>): void {
    (this.handlers[event] as Array<typeof handler>).push(handler);
  }

  /** Starts listing and watching; returns at once (see `waitForSync`). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.startGeneration();
  }

  /** Stops watching and cancels any pending restart; the cache keeps its last contents. */
  async stop(): Promise<void> {
    this.running = false;
    this.generation++;
    this.clearTimers();
    for (const resolve of this.syncWaiters.splice(0)) resolve();
    await this.stopCurrent();
  }

  /** True once a full list has been loaded into the cache (stays true across restarts). */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once synced, or false if the informer is stopped or `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (!this.running || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.synced);
      });
    });
  }

  /** The cached objects, optionally of one namespace. */
  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** The cached object, or undefined; pass namespace undefined for cluster-scoped objects. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  /** How many times the underlying informer has been restarted after a failure or stall. */
  get restarts(): number {
    return this.restartCount;
  }

  private startGeneration(): void {
    const gen = ++this.generation;
    const current = () => gen === this.generation && this.running;
    const guarded =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A) => {
        if (!current()) return;
        this.lastActivity = this.clock.now();
        fn(...args);
      };

    const list: ListPromise<T> = async () => {
      const result = await this.opts.list();
      if (current()) this.replaceAll(result.items ?? []);
      return result;
    };

    let path = this.opts.path;
    if (this.watchTimeoutSeconds > 0) {
      path = withWatchTimeout(path, Math.floor(this.watchTimeoutSeconds * (1 + this.random())));
    }
    const informer = this.createInformer(path, list, this.opts.labelSelector);
    informer.on('add', guarded((obj: T) => this.upsert(obj)));
    informer.on('update', guarded((obj: T) => this.upsert(obj)));
    informer.on('delete', guarded((obj: T) => this.remove(obj)));
    informer.on('connect', guarded(() => undefined));
    informer.on('error', guarded((err?: unknown) => this.fail(err)));

    this.current = informer;
    this.generationStartedAt = this.lastActivity = this.clock.now();
    this.armStallTimer(gen);
    this.log.debug('starting list and watch', { generation: gen });
    informer.start().catch(guarded((err: unknown) => this.fail(err)));
  }

  private fail(err: unknown): void {
    this.generation++;
    this.clearTimers();
    void this.stopCurrent();
    if (this.clock.now() - this.generationStartedAt >= (this.opts.backoffResetMs ?? 120_000)) {
      this.consecutiveFailures = 0;
    }
    this.consecutiveFailures++;
    const base = backoffDelay(this.consecutiveFailures, this.opts.minBackoffMs ?? 1_000, this.opts.maxBackoffMs ?? 30_000);
    const delayMs = Math.round(base * (0.8 + 0.4 * this.random()));
    this.restartCount++;
    informerRestartsTotal.inc({ resource: this.opts.resource });
    this.log.warn('list/watch stopped; restarting', {
      err: describeInformerError(err),
      delayMs,
      consecutiveFailures: this.consecutiveFailures,
      restarts: this.restartCount,
    });
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.running) this.startGeneration();
    }, delayMs);
  }

  private armStallTimer(gen: number): void {
    if (this.stallTimeoutMs <= 0) return;
    const check = () => {
      if (gen !== this.generation || !this.running) return;
      const idle = this.clock.now() - this.lastActivity;
      if (idle >= this.stallTimeoutMs) {
        this.fail(new Error(`no watch event or reconnect for ${Math.round(idle / 1000)}s`));
        return;
      }
      this.stallTimer = this.clock.setTimeout(check, this.stallTimeoutMs - idle);
    };
    this.stallTimer = this.clock.setTimeout(check, this.stallTimeoutMs);
  }

  private clearTimers(): void {
    if (this.restartTimer) this.clock.clearTimeout(this.restartTimer);
    if (this.stallTimer) this.clock.clearTimeout(this.stallTimer);
    this.restartTimer = this.stallTimer = undefined;
  }

  private async stopCurrent(): Promise<void> {
    const informer = this.current;
    this.current = undefined;
    try {
      await informer?.stop();
    } catch (err) {
      this.log.debug('error stopping informer', { err: describeInformerError(err) });
    }
  }

  /** Makes the cache equal to a fresh list, emitting delete/add/update for the differences. */
  private replaceAll(items: T[]): void {
    const listed = new Set(items.map(objectKey));
    for (const [key, obj] of [...this.cache]) {
      if (!listed.has(key)) {
        this.cache.delete(key);
        this.emit('delete', obj);
      }
    }
    for (const obj of items) this.upsert(obj);
    if (!this.synced) {
      this.synced = true;
      this.log.debug('synced', { objects: this.cache.size });
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private upsert(obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (!old) {
      this.cache.set(key, obj);
      this.emit('add', obj);
      return;
    }
    const rv = obj.metadata?.resourceVersion;
    if (rv !== undefined && rv === old.metadata?.resourceVersion) return;
    this.cache.set(key, obj);
    this.emit('update', obj, old);
  }

  private remove(obj: T): void {
    const key = objectKey(obj);
    if (!this.cache.delete(key)) return;
    this.emit('delete', obj);
  }

  private emit(event: 'add' | 'delete', obj: T): void;
  private emit(event: 'update', obj: T, old: T): void;
  private emit(event: 'add' | 'update' | 'delete', obj: T, old?: T): void {
    for (const handler of this.handlers[event]) {
      try {
        (handler as UpdateHandler<T>)(obj, old as T);
      } catch (err) {
        this.log.error('informer event handler threw', { event, object: objectKey(obj), err });
      }
    }
  }
}

/** A short description of a list/watch error (client-node errors can carry whole response bodies). */
function describeInformerError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown; statusCode?: unknown }).code ?? (err as { statusCode?: unknown }).statusCode;
    const message = err.message.length > 500 ? `${err.message.slice(0, 500)}…` : err.message;
    return code !== undefined ? `${code}: ${message}` : message;
  }
  return String(err);
}
