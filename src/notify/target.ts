// The delivery queue of one webhook: events in publish order, sent one at a time, the head retried
// with backoff until it is delivered, expires or is pushed out by newer events.
import { rootCertificates } from 'node:tls';
import { Agent } from 'undici';
import type { NotificationType, WebhookStatus } from '../api/v1alpha1/directorysync.js';
import { checkUrlPolicy, describeUrl } from '../util/http.js';
import { webhookDeliveriesTotal } from '../runtime/metrics.js';
import { backoffDelay } from '../runtime/workqueue.js';
import type { CloudEvent } from './cloudevent.js';
import { postEvent } from './post.js';
import { signingKey } from './signing.js';

export interface WebhookTarget {
  name: string;
  url: string;
  /** The signing secret (raw, or "whsec_" + base64). */
  secret: string;
  /** Event types to send; empty or absent means all. */
  types?: readonly NotificationType[];
  /** PEM CA certificates trusted for this endpoint besides the system roots. */
  caBundle?: string;
  allowInsecureLoopback?: boolean;
}

export interface NotifierLog {
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
}

/** An event waiting for one webhook. `body` is shared by every webhook the event goes to. */
export interface QueuedEvent {
  event: CloudEvent;
  body: string;
  /** When the event happened (its `time`, or when it was published if that does not parse). */
  bornAt: number;
}

export interface TargetQueueOptions {
  /** "namespace/name" of the DirectorySync, for logs. */
  directoryKey: string;
  labels: { namespace: string; directory: string };
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
  timeoutMs: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  maxPending: number;
  maxAgeMs: number;
  log: NotifierLog;
  /** Called after anything in status() may have changed, or the queue went idle. */
  onChange: () => void;
  /** An event left the queue for good: delivered (a 2xx), or dropped (expired, pushed out, no longer wanted). */
  onSettled?: (webhook: string, event: CloudEvent, outcome: 'delivered' | 'dropped') => void;
}

/** Ids remembered per webhook as settled, so an event published again after it went out is not sent twice. */
const SETTLED_MEMORY = 10_000;

interface Endpoint {
  url: URL;
  where: string;
  agent: Agent;
}

const MAX_ERROR_LENGTH = 1024;

export class TargetQueue {
  private target: WebhookTarget;
  /** Undefined while the configuration is unusable; events then wait and status says why. */
  private endpoint?: Endpoint;
  private readonly queue: QueuedEvent[] = [];
  /** Ids delivered or dropped lately, oldest first, with how they left. */
  private readonly settled = new Map<string, 'delivered' | 'dropped'>();
  private sending?: QueuedEvent;
  private consecutiveFailures = 0;
  private delivered = 0;
  private failedAttempts = 0;
  private dropped = 0;
  private lastDeliveryTime?: string;
  private lastFailureTime?: string;
  private lastError?: string;
  private loop?: Promise<void>;
  private abort = new AbortController();
  private stopped = false;

  constructor(
    target: WebhookTarget,
    private readonly opts: TargetQueueOptions,
  ) {
    this.target = copyTarget(target);
    this.applyConfiguration(this.target);
  }

  get name(): string {
    return this.target.name;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** What still waits (including an attempt in flight), oldest first. */
  pendingEvents(): CloudEvent[] {
    return this.queue.map((q) => q.event);
  }

  /** True while nothing is queued or being sent. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.loop;
  }

  wants(type: NotificationType): boolean {
    return wantsType(this.target, type);
  }

  /**
   * Takes a new configuration for this webhook name. Queue and counters stay. A changed URL, secret
   * or CA cancels the attempt or backoff in progress and retries the head at once with the new one;
   * events of types no longer wanted are dropped.
   */
  reconfigure(target: WebhookTarget): void {
    if (this.stopped || (sameEndpoint(this.target, target) && sameTypes(this.target, target))) return;
    const endpointChanged = !sameEndpoint(this.target, target);
    this.target = copyTarget(target);
    if (endpointChanged) {
      this.interrupt();
      this.applyConfiguration(this.target);
      this.consecutiveFailures = 0;
    }
    const unwanted = this.queue.filter((q) => !this.wants(q.event.type));
    if (unwanted.length > 0) this.discard(unwanted, 'their types are no longer sent to it');
    this.opts.onChange();
    this.kick();
  }

  /** Queues events; one already waiting, or delivered or dropped lately, is not queued again. */
  enqueue(events: QueuedEvent[]): void {
    if (this.stopped || events.length === 0) return;
    const known = new Set(this.queue.map((q) => q.event.id));
    for (const q of events) {
      const outcome = this.settled.get(q.event.id);
      // Published again because the news of its delivery was lost on the way: tell it again.
      if (outcome) this.opts.onSettled?.(this.target.name, q.event, outcome);
      if (known.has(q.event.id) || outcome) continue;
      known.add(q.event.id);
      this.queue.push(q);
    }
    this.trim();
    this.kick();
  }

  /**
   * Puts events that were waiting before a restart in front of everything queued since (behind an
   * attempt in flight), in their order. Ids already queued are skipped; events of types this webhook
   * no longer takes are dropped.
   */
  restore(events: QueuedEvent[]): void {
    if (this.stopped || events.length === 0) return;
    const known = new Set(this.queue.map((q) => q.event.id));
    const restored: QueuedEvent[] = [];
    let unwanted = 0;
    for (const q of events) {
      if (known.has(q.event.id)) continue;
      known.add(q.event.id);
      if (this.wants(q.event.type)) restored.push(q);
      else unwanted++;
    }
    this.queue.splice(this.sending && this.queue[0] === this.sending ? 1 : 0, 0, ...restored);
    if (unwanted > 0) this.countDropped(unwanted, 'their types are no longer sent to it');
    this.trim();
    this.kick();
  }

  /** Drops the waiting events with these ids (an attempt in flight is left to finish); returns how many. */
  drop(ids: ReadonlySet<string>, why: string): number {
    const doomed = this.queue.filter((q) => ids.has(q.event.id) && q !== this.sending);
    if (doomed.length === 0) return 0;
    this.discard(doomed, why);
    this.opts.onChange();
    return doomed.length;
  }

  status(): WebhookStatus {
    return {
      name: this.target.name,
      delivered: this.delivered,
      failedAttempts: this.failedAttempts,
      pending: this.queue.length,
      dropped: this.dropped,
      ...(this.lastDeliveryTime ? { lastDeliveryTime: this.lastDeliveryTime } : {}),
      ...(this.lastFailureTime ? { lastFailureTime: this.lastFailureTime } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Stops delivery for good and discards what is pending; resolves once connections are closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    this.abort.abort();
    await this.loop;
    await this.endpoint?.agent.close().catch(() => {});
  }

  private applyConfiguration(target: WebhookTarget): void {
    this.endpoint = undefined;
    const problem = configurationProblem(target);
    if (problem) {
      this.recordFailure(problem);
      this.opts.log.warn('webhook configuration is unusable; notifications wait until it is fixed', {
        directory: this.opts.directoryKey,
        webhook: target.name,
        error: problem,
      });
      return;
    }
    const url = new URL(target.url);
    this.endpoint = {
      url,
      where: describeUrl(url),
      agent: new Agent({ connect: target.caBundle ? { ca: [...rootCertificates, target.caBundle] } : {} }),
    };
  }

  /** Cancels the attempt or backoff in progress and closes its connections once the loop has let go. */
  private interrupt(): void {
    this.abort.abort();
    this.abort = new AbortController();
    const agent = this.endpoint?.agent;
    if (agent) void Promise.resolve(this.loop).then(() => agent.close().catch(() => {}));
  }

  private kick(): void {
    if (this.loop || this.stopped || !this.endpoint || this.queue.length === 0) return;
    const endpoint = this.endpoint;
    this.loop = this.run(endpoint, this.abort.signal).finally(() => {
      this.loop = undefined;
      this.kick();
      this.opts.onChange();
    });
  }

  private async run(endpoint: Endpoint, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.dropExpired();
      const item = this.queue[0];
      if (!item) return;
      this.sending = item;
      const result = await postEvent({
        dispatcher: endpoint.agent,
        url: endpoint.url,
        where: endpoint.where,
        secret: this.target.secret,
        id: item.event.id,
        body: item.body,
        now: this.opts.now(),
        timeoutMs: this.opts.timeoutMs,
        signal,
      });
      this.sending = undefined;
      if (result.ok) {
        this.remove(new Set([item]));
        this.settle(item.event, 'delivered');
        this.delivered++;
        this.consecutiveFailures = 0;
        this.lastDeliveryTime = new Date(this.opts.now()).toISOString();
        this.count('success');
        this.opts.onChange();
        continue;
      }
      if (result.aborted) return;
      this.consecutiveFailures++;
      this.failedAttempts++;
      this.count('failure');
      this.recordFailure(this.redact(result.error));
      this.opts.onChange();
      await this.opts.sleep(this.backoff(result.retryAfterMs), signal).catch(() => {});
    }
  }

  /**
   * Full jitter: uniform in [0, min(max, base·2^(failures-1))]. A Retry-After is a floor, itself
   * capped at maxBackoffMs so no receiver can park revocations for longer than that.
   */
  private backoff(retryAfterMs: number | undefined): number {
    const { baseBackoffMs, maxBackoffMs } = this.opts;
    const ceiling = backoffDelay(this.consecutiveFailures, baseBackoffMs, maxBackoffMs);
    const jittered = this.opts.random() * ceiling;
    return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, maxBackoffMs));
  }

  /** Drops expired events, then the oldest beyond maxPending. */
  private trim(): void {
    this.dropExpired();
    const overflow: QueuedEvent[] = [];
    while (this.queue.length > this.opts.maxPending) {
      // The oldest waiting event goes; one on the wire right now is left to finish.
      overflow.push(...this.queue.splice(this.queue[0] === this.sending ? 1 : 0, 1));
    }
    if (overflow.length > 0) this.discard(overflow, `more than ${this.opts.maxPending} events were waiting`, false);
  }

  private dropExpired(): void {
    const oldest = this.opts.now() - this.opts.maxAgeMs;
    const expired = this.queue.filter((q) => q.bornAt < oldest && q !== this.sending);
    if (expired.length === 0) return;
    this.discard(expired, `they were older than ${formatDuration(this.opts.maxAgeMs)}`);
  }

  /** Takes events out of the queue for good (unless `queued` says they are out already), counted and reported. */
  private discard(items: QueuedEvent[], why: string, queued = true): void {
    if (queued) this.remove(new Set(items));
    this.countDropped(items.length, why);
    for (const q of items) this.settle(q.event, 'dropped');
  }

  private settle(event: CloudEvent, outcome: 'delivered' | 'dropped'): void {
    this.settled.set(event.id, outcome);
    if (this.settled.size > SETTLED_MEMORY) this.settled.delete(this.settled.keys().next().value!);
    this.opts.onSettled?.(this.target.name, event, outcome);
  }

  private remove(items: Set<QueuedEvent>): void {
    let kept = 0;
    for (const q of this.queue) if (!items.has(q)) this.queue[kept++] = q;
    this.queue.length = kept;
  }

  private countDropped(count: number, why: string): void {
    this.dropped += count;
    this.count('dropped', count);
    this.opts.log.warn(`dropped ${count} webhook notification(s): ${why}`, {
      directory: this.opts.directoryKey,
      webhook: this.target.name,
      dropped: count,
    });
  }

  private recordFailure(error: string): void {
    this.lastFailureTime = new Date(this.opts.now()).toISOString();
    this.lastError = error.slice(0, MAX_ERROR_LENGTH);
  }

  /** Belt and braces: no error text may carry the secret or the URL's query. */
  private redact(text: string): string {
    let out = text;
    const { secret, url } = this.target;
    if (secret) out = out.split(secret).join('[REDACTED]');
    const query = this.endpoint?.url.search;
    if (query && query.length > 1) out = out.split(query).join('');
    if (url) out = out.split(url).join(this.endpoint?.where ?? '');
    return out;
  }

  private count(result: 'success' | 'failure' | 'dropped', n = 1): void {
    // A stopped queue's series have been removed; an attempt finishing late must not bring them back.
    if (!this.stopped) webhookDeliveriesTotal.inc({ ...this.opts.labels, webhook: this.target.name, result }, n);
  }
}

/** Why a webhook cannot be delivered to as configured, in words safe for status; undefined if it can. */
function configurationProblem(target: WebhookTarget): string | undefined {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return `webhook "${target.name}": url is not a valid URL`;
  }
  if (url.username || url.password) {
    return `webhook "${target.name}": url ${describeUrl(url)} must not carry credentials; the signature authenticates deliveries`;
  }
  try {
    checkUrlPolicy(target.url, target.allowInsecureLoopback, 'webhook url');
  } catch {
    return `webhook "${target.name}": url ${describeUrl(url)} must use https:// (plain http:// is only allowed to a loopback address with allowInsecureLoopback: true)`;
  }
  try {
    signingKey(target.secret);
  } catch (err) {
    // signingKey's messages describe the secret's form, never its value.
    return `webhook "${target.name}": ${(err as Error).message}`;
  }
  return undefined;
}

export function wantsType(target: WebhookTarget, type: NotificationType): boolean {
  const types = target.types;
  return !types || types.length === 0 || types.includes(type);
}

function copyTarget(t: WebhookTarget): WebhookTarget {
  return { ...t, ...(t.types ? { types: [...t.types] } : {}) };
}

function sameEndpoint(a: WebhookTarget, b: WebhookTarget): boolean {
  return (
    a.url === b.url &&
    a.secret === b.secret &&
    (a.caBundle ?? '') === (b.caBundle ?? '') &&
    Boolean(a.allowInsecureLoopback) === Boolean(b.allowInsecureLoopback)
  );
}

function sameTypes(a: WebhookTarget, b: WebhookTarget): boolean {
  return [...(a.types ?? [])].sort().join(',') === [...(b.types ?? [])].sort().join(',');
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
