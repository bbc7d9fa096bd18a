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
//   idpsync_webhook_deliveries_total{result="dropped"} metric, and logged. Queues live in memory:
//   events not yet delivered when the operator stops are lost.
// - A webhook whose URL breaks policy (https only; plain http only to loopback with
//   allowInsecureLoopback) or whose secret is empty is not called; its events wait (bounded as above)
//   and status says why.
// - URLs appear in status and logs as origin + path only (a query may carry a token); the secret
//   never appears anywhere.
import type { WebhookStatus } from '../api/v1alpha1/directorysync.js';
import { realClock, sleep as clockSleep, type Clock, type TimerHandle } from '../runtime/clock.js';
import { webhookDeliveriesTotal, webhookPending } from '../runtime/metrics.js';
import type { CloudEvent } from './cloudevent.js';
import { TargetQueue, type NotifierLog, type QueuedEvent, type WebhookTarget } from './target.js';

export type { WebhookTarget, NotifierLog } from './target.js';

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
  /** Minimum time between two onStatusChange calls for one directory. Default 1 s. */
  statusIntervalMs?: number;
  onStatusChange?: (directoryKey: string, statuses: WebhookStatus[]) => void;
  log?: NotifierLog;
}

interface Directory {
  namespace: string;
  name: string;
  /** Undefined until configure(): events published before then are held. */
  targets?: Map<string, TargetQueue>;
  held: QueuedEvent[];
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
    if (held.length > 0) this.route(dir, held);
    this.changed(directoryKey);
  }

  /** Queues events for every webhook of the directory that takes their type. */
  publish(directoryKey: string, events: CloudEvent[]): void {
    if (this.stopped || events.length === 0) return;
    const dir = this.directory(directoryKey);
    const published = this.now();
    const queued = events.map((event): QueuedEvent => {
      const time = Date.parse(event.time);
      return { event, body: JSON.stringify(event), bornAt: Number.isNaN(time) ? published : time };
    });
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
    for (const queue of dir.targets?.values() ?? []) this.retire(directoryKey, dir, queue);
    this.checkIdle();
  }

  /**
   * Resolves once every configured webhook has nothing pending or in flight (events held for a
   * directory that was never configured do not count). Meant for tests.
   */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels attempts in flight and backoffs; nothing is delivered afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    const queues: Array<Promise<void>> = [];
    for (const dir of this.directories.values()) {
      if (dir.statusTimer) this.clock.clearTimeout(dir.statusTimer);
      dir.statusTimer = undefined;
      for (const queue of dir.targets?.values() ?? []) queues.push(queue.stop());
    }
    await Promise.all([...queues, ...this.retiring]);
    for (const resolve of this.idleWaiters.splice(0)) resolve();
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
      for (const queue of dir.targets?.values() ?? []) if (!queue.idle) return false;
    }
    return true;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length > 0 && this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
