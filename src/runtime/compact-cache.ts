// A list+watch cache that keeps each object in a reduced form, for kinds with up to hundreds of thousands of
// objects. client-node's informer keeps every object as received (managedFields included) and lists in one
// request; this one lists page by page, reduces each object as it arrives, and keeps only the reduction.
//
// The writer that owns the objects also reports its own writes (`stored`, `removed`), so a read right
// after a write sees it without waiting for the watch. An event older than what is cached is ignored, and
// a name removed by the writer stays removed until a newer version of it is seen.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { type Clock, type TimerHandle, realClock } from './clock.js';
import type { Logger } from './logger.js';
import { informerRestartsTotal } from './metrics.js';
import { backoffDelay } from './workqueue.js';

export interface CachedObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
}

export interface ListPage<T> {
  items: T[];
  resourceVersion: string;
  continue?: string;
}

export interface CompactCacheOptions<T extends CachedObject> {
  /** Resource name for logs and informer_restarts_total, e.g. "users". */
  resource: string;
  kubeConfig: KubeConfig;
  /** Watch path, e.g. "/apis/idpsync.io/v1alpha1/users". */
  path: string;
  labelSelector?: string;
  /** One page of the list (same scope and selector as the watch). */
  listPage: (continueToken: string | undefined) => Promise<ListPage<T>>;
  /** What is kept of an object. */
  reduce: (obj: T) => T;
  /** Groups objects for `select` (e.g. by their directory label). */
  indexKey: (obj: T) => string | undefined;
  /** Sees every watched change as received, before it is reduced. */
  onModified?: (obj: T) => void;
  logger: Logger;
  clock?: Clock;
  /** The apiserver ends each watch after about this long; the cache then watches on from where it was. */
  watchTimeoutSeconds?: number;
}

/** Orders resourceVersions where both are etcd revisions; otherwise the later arrival wins. */
export function isOlder(candidate: string | undefined, than: string | undefined): boolean {
  if (!candidate || !than || !/^\d+$/.test(candidate) || !/^\d+$/.test(than)) return false;
  return candidate.length !== than.length ? candidate.length < than.length : candidate < than;
}

const key = (obj: CachedObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;

export class CompactCache<T extends CachedObject> {
  private readonly objects = new Map<string, T>();
  private readonly byIndex = new Map<string, Set<string>>();
  /** Names the writer removed, with the time: a late event for the removed version must not bring them back. */
  private readonly removedAt = new Map<string, number>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private resourceVersion?: string;
  private synced = false;
  private running = false;
  private failures = 0;
  private abort?: AbortController;
  private timer?: TimerHandle;
  private readonly syncWaiters: Array<(synced: boolean) => void> = [];

  constructor(private readonly opts: CompactCacheOptions<T>) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.logger.child({ component: 'cache', resource: opts.resource });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.cycle();
  }

  stop(): void {
    this.running = false;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.abort?.abort();
    for (const resolve of this.syncWaiters.splice(0)) resolve(false);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once a complete list is loaded; false if stopped first or after `timeoutMs`. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (!this.running) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(false), timeoutMs);
      this.syncWaiters.push((synced) => {
        this.clock.clearTimeout(timer);
        resolve(synced);
      });
    });
  }

  /** Every cached object sharing an index key. */
  select(index: string): T[] {
    const keys = this.byIndex.get(index);
    return keys ? [...keys].map((k) => this.objects.get(k)!) : [];
  }

  get size(): number {
    return this.objects.size;
  }

  /** The writer stored this version (the apiserver's answer to its write); returns it as the cache keeps it. */
  stored(obj: T): T {
    this.removedAt.delete(key(obj));
    const kept = this.opts.reduce(obj);
    this.upsert(kept);
    return kept;
  }

  /** The writer deleted this object. */
  removed(namespace: string, name: string): void {
    const k = `${namespace}/${name}`;
    this.removedAt.set(k, this.clock.now());
    this.drop(k);
  }

  private upsert(obj: T): void {
    const k = key(obj);
    const cached = this.objects.get(k);
    if (cached && isOlder(obj.metadata?.resourceVersion, cached.metadata?.resourceVersion)) return;
    if (cached) this.unindex(k, cached);
    this.objects.set(k, obj);
    const index = this.opts.indexKey(obj);
    if (index !== undefined) {
      let keys = this.byIndex.get(index);
      if (!keys) this.byIndex.set(index, (keys = new Set()));
      keys.add(k);
    }
  }

  private drop(k: string): void {
    const cached = this.objects.get(k);
    if (!cached) return;
    this.objects.delete(k);
    this.unindex(k, cached);
  }

  private unindex(k: string, obj: T): void {
    const index = this.opts.indexKey(obj);
    const keys = index === undefined ? undefined : this.byIndex.get(index);
    keys?.delete(k);
    if (keys?.size === 0) this.byIndex.delete(index!);
  }

  /** A watch event for a name the writer removed within the last minute belongs to the removed version. */
  private removedRecently(k: string): boolean {
    const at = this.removedAt.get(k);
    if (at === undefined) return false;
    if (this.clock.now() - at < 60_000) return true;
    this.removedAt.delete(k);
    return false;
  }

  private async cycle(): Promise<void> {
    while (this.running) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        const gone = await this.watch();
        if (gone) this.resourceVersion = undefined;
        this.failures = 0;
      } catch (err) {
        if (!this.running) return;
        this.failures++;
        informerRestartsTotal.inc({ resource: this.opts.resource });
        const delay = backoffDelay(this.failures, 1000, 30_000);
        this.log.warn('list or watch failed; retrying', { error: String((err as Error)?.message ?? err).split('\n')[0], retryInMs: delay });
        await new Promise<void>((resolve) => (this.timer = this.clock.setTimeout(resolve, delay)));
      }
    }
  }

  /** Lists everything again, page by page; what the list no longer has is dropped, unless written since. */
  private async relist(): Promise<void> {
    const seen = new Set<string>();
    let token: string | undefined;
    let listedAt: string | undefined;
    do {
      const page = await this.opts.listPage(token);
      listedAt ??= page.resourceVersion;
      for (const item of page.items) {
        const k = key(item);
        seen.add(k);
        if (!this.removedRecently(k)) this.upsert(this.opts.reduce(item));
      }
      token = page.continue || undefined;
    } while (token && this.running);
    for (const [k, obj] of this.objects) {
      if (!seen.has(k) && !isOlder(listedAt, obj.metadata?.resourceVersion)) this.drop(k);
    }
    this.resourceVersion = listedAt;
    if (!this.synced) {
      this.synced = true;
      this.log.info('cache loaded', { objects: this.objects.size });
      for (const resolve of this.syncWaiters.splice(0)) resolve(true);
    }
  }

  /** Watches from the cached resourceVersion until the apiserver ends the watch; true when that version is gone (410). */
  private watch(): Promise<boolean> {
    const timeoutSeconds = Math.round((this.opts.watchTimeoutSeconds ?? 300) * (1 + Math.random()));
    return new Promise<boolean>((resolve, reject) => {
      let gone = false;
      // A connection that hangs without closing: give up a minute after the apiserver should have ended it.
      const hung = this.clock.setTimeout(() => this.abort?.abort(), (timeoutSeconds + 60) * 1000);
      const finish = (err: unknown) => {
        this.clock.clearTimeout(hung);
        if (err && !gone && (err as Error).name !== 'AbortError') reject(err);
        else resolve(gone);
      };
      new Watch(this.opts.kubeConfig)
        .watch(
          this.opts.path,
          { labelSelector: this.opts.labelSelector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
          (phase: string, obj: T & { code?: number }) => {
            if (phase === 'ERROR') {
              gone = obj.code === 410;
              if (!gone) this.log.warn('watch error', { code: obj.code });
              this.abort?.abort();
              return;
            }
            const rv = obj.metadata?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            if (phase === 'BOOKMARK') return;
            const k = key(obj);
            if (phase === 'DELETED') {
              this.removedAt.delete(k);
              const cached = this.objects.get(k);
              if (!cached || !isOlder(rv, cached.metadata?.resourceVersion)) this.drop(k);
              return;
            }
            if (phase === 'MODIFIED') this.opts.onModified?.(obj);
            if (!this.removedRecently(k)) this.upsert(this.opts.reduce(obj));
          },
          finish,
        )
        .then((abort) => {
          this.abort = abort;
          if (!this.running) abort.abort();
        }, finish);
    });
  }
}
