// Outbound revocation notifications: signed CloudEvents POSTed to each DirectorySync's webhooks, so
// systems outside Kubernetes (VPN gateways, proxies) can cut sessions as soon as access is revoked.
//
// What a receiver can rely on:
// - One POST per event, structured mode: `Content-Type: application/cloudevents+json`, the body is the
//   JSON CloudEvent, `User-Agent: idpsync/<version>`, and Standard Webhooks signature headers
//   (webhook-id, webhook-timestamp, webhook-signature; see signing.ts). webhook-id is the CloudEvent id
//   and stays the same across retries: de-duplicate on it. Each attempt is signed afresh, so its
//   timestamp is current even when the event is hours old (the event's own `time` says when it happened).
// - Per webhook, events arrive in the order they were published, one at a time: an event is sent
//   only once every event before it was delivered or dropped. Redirects are not followed.
// - Only a 2xx answer counts as delivered. Anything else (408, 429, 5xx, other 4xx, 3xx, a network
//   error, no answer within timeoutMs) is a failed attempt, and the same event is retried: with
//   exponential backoff and full jitter from baseBackoffMs doubling up to maxBackoffMs, and never
//   sooner than a Retry-After (seconds or HTTP date) asks, up to maxBackoffMs. A 4xx is retried too,
//   so a receiver whose configuration is being fixed still gets every event; status shows e.g.
//   "HTTP 401 from https://host/path".
// - Delivery is at least once while the event is younger than maxAgeMs (by its `time`) and fewer than
//   maxPending newer events wait behind it; otherwise it is dropped, counted in status and the
//   idpsync_webhook_deliveries_total{result="dropped"} metric, and logged.
// - With a store (outbox.ts: a Secret per DirectorySync), what is pending survives a restart or a new
//   leader: a directory's first configure() reads what was kept, and those events go first, in their
//   order, before anything published since (an id already queued is not queued twice); delivery for
//   the directory starts once that read is done, or failed, or loadTimeoutMs passed. Changes are
//   written at most once per saveIntervalMs, never when nothing changed, and a last time by stop().
//   A crash loses at most what changed in the last interval; a receiver may see an event again after
//   a restart, under the same id. Without a store, queues live in memory only.
// - A webhook whose URL breaks policy (https only; plain http only to loopback with
//   allowInsecureLoopback) or whose secret is empty is not called; its events wait (bounded as above)
//   and status says why.
// - URLs appear in status and logs as origin + path only (a query may carry a token); the secret
//   never appears anywhere.
import type { WebhookStatus } from '../api/v1alpha1/directorysync.js';
import { realClock, sleep as clockSleep, type Clock, type TimerHandle } from '../runtime/clock.js';
import { webhookDeliveriesTotal, webhookPending } from '../runtime/metrics.js';
import type { CloudEvent } from './cloudevent.js';
import type { OutboxStore, PersistedOutbox } from './outbox.js';
import { OutboxKeeper } from './persistence.js';
import { TargetQueue, wantsType, type NotifierLog, type QueuedEvent, type WebhookTarget } from './target.js';

export type { WebhookTarget, NotifierLog } from './target.js';
export type { OutboxStore, PersistedOutbox } from './outbox.js';

export interface NotifierOptions {
  /** Timers for coalescing status reports, and the default time source and backoff sleep. */
  clock?: Clock;
  now?: () => number;
  random?: () => number;
  /** Waits between attempts; should return early when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Per attempt. Default 10 s. */
  timeoutMs?: number;
  /** Default 1 s. */
  baseBackoffMs?: number;
  /** Default 5 min. */
  maxBackoffMs?: number;
  /** Events waiting per webhook (and per directory before it is configured). Default 10,000. */
  maxPending?: number;
  /** Default 24 h. */
  maxAgeMs?: number;
  /** An event left a webhook's queue for good: delivered, or dropped (and counted as such). */
  onSettled?: (directoryKey: string, webhook: string, event: CloudEvent, outcome: 'delivered' | 'dropped') => void;
  /** Minimum time between two onStatusChange calls for one directory. Default 1 s. */
  statusIntervalMs?: number;
  onStatusChange?: (directoryKey: string, statuses: WebhookStatus[]) => void;
  log?: NotifierLog;
  /** Keeps pending events across restarts; without it they live in memory only. */
  store?: OutboxStore;
  /** Minimum time between two writes to the store for one directory. Default statusIntervalMs. */
  saveIntervalMs?: number;
  /** How long a directory's delivery waits for the store to be read. Default 10 s. */
  loadTimeoutMs?: number;
}

interface Directory {
  namespace: string;
  name: string;
  /** Undefined until configure(): events published before then are held. */
  targets?: Map<string, TargetQueue>;
  held: QueuedEvent[];
  /** With a store: reads and writes this directory's pending events. */
  outbox?: OutboxKeeper;
  /** While the store is first read: the webhooks configure() was last given. */
  configuring?: WebhookTarget[];
  /** Read from the store after stop() began: written back, with what was held, by the final save. */
  loadedWhileStopping?: PersistedOutbox;
  statusTimer?: TimerHandle;
  lastReportAt: number;
  lastReport?: string;
}

const silentLog: NotifierLog = { warn: () => {}, info: () => {} };

export class Notifier {
  private readonly directories = new Map<string, Directory>();
  private readonly idleWaiters: Array<() => void> = [];
  /** Webhooks being shut down after removal; stop() waits for them. */
  private readonly retiring = new Set<Promise<void>>();
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly log: NotifierLog;
  private stopped = false;
  private stopping?: Promise<void>;

  constructor(private readonly opts: NotifierOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.now = opts.now ?? (() => this.clock.now());
    this.log = opts.log ?? silentLog;
  }

  /**
   * Sets the webhooks of a directory ("namespace/name"); call it on every reconcile, with [] when the
   * directory has none. A webhook keeps its queue and counters as long as its name stays; changed
   * settings apply from the next attempt. Webhooks no longer listed are stopped and their pending
   * events discarded.
   */
  configure(directoryKey: string, targets: WebhookTarget[]): void {
    if (this.stopped) return;
    const dir = this.directory(directoryKey);
    if (this.opts.store && !dir.outbox) {
      dir.configuring = targets;
      dir.outbox = this.keeper(directoryKey, dir, this.opts.store);
      return;
    }
    if (dir.configuring) {
      dir.configuring = targets;
      return;
    }
    this.applyTargets(directoryKey, dir, targets);
  }

  private applyTargets(directoryKey: string, dir: Directory, targets: WebhookTarget[], restored?: PersistedOutbox): void {
    const previous = dir.targets ?? new Map<string, TargetQueue>();
    const next = new Map<string, TargetQueue>();
    for (const target of targets) {
      if (next.has(target.name)) {
        this.log.warn('webhook listed twice; the first entry is used', { directory: directoryKey, webhook: target.name });
        continue;
      }
      const existing = previous.get(target.name);
      if (existing) existing.reconfigure(target);
      next.set(target.name, existing ?? this.newQueue(directoryKey, dir, target));
    }
    for (const [name, queue] of previous) {
      if (!next.has(name)) this.retire(directoryKey, dir, queue);
    }
    dir.targets = next;

    const held = dir.held.splice(0);
    if (restored) this.restore(directoryKey, dir, restored, held);
    else if (held.length > 0) this.route(dir, held);
    this.changed(directoryKey);
  }

  /** Queues events for every webhook of the directory that takes their type. */
  publish(directoryKey: string, events: CloudEvent[]): void {
    if (this.stopped || events.length === 0) return;
    const dir = this.directory(directoryKey);
    const published = this.now();
    const queued = events.map((event) => toQueued(event, published));
    if (!dir.targets) {
      dir.held.push(...queued);
      const overflow = dir.held.length - this.maxPending;
      if (overflow > 0) {
        dir.held.splice(0, overflow);
        this.log.warn(`dropped ${overflow} webhook notification(s) published before the webhooks were configured`, {
          directory: directoryKey,
          dropped: overflow,
        });
      }
      return;
    }
    this.route(dir, queued);
    this.changed(directoryKey);
  }

  status(directoryKey: string): WebhookStatus[] {
    const targets = this.directories.get(directoryKey)?.targets;
    return targets ? [...targets.values()].map((t) => t.status()) : [];
  }

  /** Stops delivery for a directory that is gone; its pending events are discarded. */
  forget(directoryKey: string): void {
    const dir = this.directories.get(directoryKey);
    if (!dir) return;
    this.directories.delete(directoryKey);
    if (dir.statusTimer) this.clock.clearTimeout(dir.statusTimer);
    dir.outbox?.close();
    for (const queue of dir.targets?.values() ?? []) this.retire(directoryKey, dir, queue);
    this.checkIdle();
  }

  /**
   * Resolves once every configured webhook has nothing pending or in flight, and no directory waits
   * for its store to be read (events held for a directory that was never configured do not count).
   * Meant for tests.
   */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Cancels attempts in flight and backoffs; nothing is delivered afterwards. With a store, what was
   * pending is written a last time (if it changed). Calling it again waits for the same shutdown.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    const queues: Array<Promise<void>> = [];
    const saves: Array<Promise<void>> = [];
    for (const dir of this.directories.values()) {
      if (dir.statusTimer) this.clock.clearTimeout(dir.statusTimer);
      dir.statusTimer = undefined;
      // Taken before the queues stop, since stopping empties them.
      if (dir.outbox && dir.targets) saves.push(dir.outbox.flush(snapshotOf(dir)));
      else if (dir.outbox) saves.push(this.flushUnconfigured(dir, dir.outbox));
      for (const queue of dir.targets?.values() ?? []) queues.push(queue.stop());
    }
    await Promise.all([...queues, ...this.retiring]);
    await Promise.all(saves);
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** stop() came while the store was being read: keep what was read plus what was published since. */
  private async flushUnconfigured(dir: Directory, outbox: OutboxKeeper): Promise<void> {
    await outbox.ready;
    await outbox.flush(composeOutbox(dir.configuring ?? [], dir.loadedWhileStopping, dir.held));
  }

  private get maxPending(): number {
    return this.opts.maxPending ?? 10_000;
  }

  private directory(key: string): Directory {
    let dir = this.directories.get(key);
    if (!dir) {
      const slash = key.indexOf('/');
      dir = {
        namespace: slash < 0 ? '' : key.slice(0, slash),
        name: slash < 0 ? key : key.slice(slash + 1),
        held: [],
        lastReportAt: Number.NEGATIVE_INFINITY,
      };
      this.directories.set(key, dir);
    }
    return dir;
  }

  private keeper(directoryKey: string, dir: Directory, store: OutboxStore): OutboxKeeper {
    return new OutboxKeeper({
      directoryKey,
      store,
      clock: this.clock,
      intervalMs: this.opts.saveIntervalMs ?? this.opts.statusIntervalMs ?? 1_000,
      loadTimeoutMs: this.opts.loadTimeoutMs ?? 10_000,
      maxRetryMs: this.opts.maxBackoffMs ?? 5 * 60_000,
      log: this.log,
      snapshot: () => snapshotOf(dir),
      loaded: (outbox) => this.loaded(directoryKey, dir, outbox),
      dropped: (ids) => {
        const doomed = new Set(ids);
        for (const queue of dir.targets?.values() ?? []) queue.drop(doomed, 'the store that keeps them across restarts is full');
      },
    });
  }

  private loaded(directoryKey: string, dir: Directory, outbox: PersistedOutbox | undefined): void {
    if (this.directories.get(directoryKey) !== dir) return;
    if (this.stopped) {
      dir.loadedWhileStopping = outbox;
      return;
    }
    if (dir.targets) {
      // A retry read the store after delivery had started without it.
      if (outbox) this.restore(directoryKey, dir, outbox, []);
      this.changed(directoryKey);
      return;
    }
    const targets = dir.configuring ?? [];
    dir.configuring = undefined;
    this.applyTargets(directoryKey, dir, targets, outbox ?? { webhooks: [] });
  }

  /** Puts events kept from before the restart first in their webhooks' queues, then `held`. */
  private restore(directoryKey: string, dir: Directory, outbox: PersistedOutbox, held: QueuedEvent[]): void {
    const restoredAt = this.now();
    const shared = new Map<string, QueuedEvent>();
    const byWebhook = new Map<string, QueuedEvent[]>();
    for (const webhook of outbox.webhooks) {
      const events = webhook.events.map((event) => {
        let queued = shared.get(event.id);
        if (!queued) shared.set(event.id, (queued = toQueued(event, restoredAt)));
        return queued;
      });
      if (dir.targets?.has(webhook.name)) byWebhook.set(webhook.name, [...(byWebhook.get(webhook.name) ?? []), ...events]);
      else if (events.length > 0) {
        this.log.warn(`webhook no longer configured; discarded ${events.length} notification(s) kept from before the restart`, {
          directory: directoryKey,
          webhook: webhook.name,
          dropped: events.length,
        });
      }
    }
    for (const queue of dir.targets?.values() ?? []) {
      queue.restore([...(byWebhook.get(queue.name) ?? []), ...held.filter((q) => queue.wants(q.event.type))]);
    }
  }

  private route(dir: Directory, queued: QueuedEvent[]): void {
    for (const queue of dir.targets?.values() ?? []) {
      queue.enqueue(queued.filter((q) => queue.wants(q.event.type)));
    }
  }

  private newQueue(directoryKey: string, dir: Directory, target: WebhookTarget): TargetQueue {
    const clock = this.clock;
    return new TargetQueue(target, {
      directoryKey,
      labels: { namespace: dir.namespace, directory: dir.name },
      now: this.now,
      sleep: this.opts.sleep ?? ((ms, signal) => clockSleep(clock, ms, signal)),
      random: this.opts.random ?? Math.random,
      timeoutMs: this.opts.timeoutMs ?? 10_000,
      baseBackoffMs: this.opts.baseBackoffMs ?? 1_000,
      maxBackoffMs: this.opts.maxBackoffMs ?? 5 * 60_000,
      maxPending: this.maxPending,
      maxAgeMs: this.opts.maxAgeMs ?? 24 * 3_600_000,
      log: this.log,
      onChange: () => this.changed(directoryKey),
      onSettled: (webhook, event, outcome) => this.opts.onSettled?.(directoryKey, webhook, event, outcome),
    });
  }

  private retire(directoryKey: string, dir: Directory, queue: TargetQueue): void {
    const labels = { namespace: dir.namespace, directory: dir.name, webhook: queue.name };
    const pending = queue.pending;
    if (pending > 0) {
      this.log.warn(`webhook removed; discarded ${pending} pending notification(s)`, {
        directory: directoryKey,
        webhook: queue.name,
        dropped: pending,
      });
    }
    // The series would otherwise stay forever: a removed webhook has no pending events and no future.
    webhookPending.remove(labels);
    for (const result of ['success', 'failure', 'dropped']) webhookDeliveriesTotal.remove({ ...labels, result });
    const stopped = queue.stop().then(() => {
      this.retiring.delete(stopped);
      this.checkIdle();
    });
    this.retiring.add(stopped);
  }

  /** Something about a directory's webhooks changed: update the gauge, wake idle(), report status. */
  private changed(directoryKey: string): void {
    const dir = this.directories.get(directoryKey);
    if (dir?.targets) {
      for (const queue of dir.targets.values()) {
        webhookPending.set({ namespace: dir.namespace, directory: dir.name, webhook: queue.name }, queue.pending);
      }
    }
    this.checkIdle();
    if (dir && !this.stopped) dir.outbox?.changed();
    if (dir && this.opts.onStatusChange && !dir.statusTimer && !this.stopped) {
      // Leading and trailing edge: at most one report per interval, and the last state always reported.
      const interval = this.opts.statusIntervalMs ?? 1_000;
      const delay = Math.max(0, dir.lastReportAt + interval - this.clock.now());
      dir.statusTimer = this.clock.setTimeout(() => this.report(directoryKey, dir), delay);
    }
  }

  private report(directoryKey: string, dir: Directory): void {
    dir.statusTimer = undefined;
    if (this.directories.get(directoryKey) !== dir) return;
    const statuses = this.status(directoryKey);
    const serialised = JSON.stringify(statuses);
    if (serialised === dir.lastReport) return;
    dir.lastReport = serialised;
    dir.lastReportAt = this.clock.now();
    try {
      this.opts.onStatusChange?.(directoryKey, statuses);
    } catch (err) {
      this.log.warn('webhook status callback failed', { directory: directoryKey, error: (err as Error)?.message });
    }
  }

  private isIdle(): boolean {
    for (const dir of this.directories.values()) {
      if (dir.configuring) return false;
      for (const queue of dir.targets?.values() ?? []) if (!queue.idle) return false;
    }
    return true;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length > 0 && this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

function toQueued(event: CloudEvent, publishedAt: number): QueuedEvent {
  const time = Date.parse(event.time);
  return { event, body: JSON.stringify(event), bornAt: Number.isNaN(time) ? publishedAt : time };
}

function snapshotOf(dir: Directory): PersistedOutbox {
  return { webhooks: [...(dir.targets?.values() ?? [])].map((queue) => ({ name: queue.name, events: queue.pendingEvents() })) };
}

/** What a directory whose queues were never built would have had pending: kept events first, then held ones. */
function composeOutbox(targets: WebhookTarget[], kept: PersistedOutbox | undefined, held: QueuedEvent[]): PersistedOutbox {
  const webhooks: PersistedOutbox['webhooks'] = [];
  for (const target of targets) {
    if (webhooks.some((w) => w.name === target.name)) continue;
    const seen = new Set<string>();
    const events = [
      ...(kept?.webhooks.filter((w) => w.name === target.name).flatMap((w) => w.events) ?? []),
      ...held.map((q) => q.event),
    ].filter((e) => wantsType(target, e.type) && !seen.has(e.id) && seen.add(e.id));
    webhooks.push({ name: target.name, events });
  }
  return { webhooks };
}
