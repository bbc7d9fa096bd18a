// Kubernetes Events (events.k8s.io/v1) about the objects the operator manages. The same
// (object, type, reason, action, note) seen again within the de-duplication window bumps the
// existing Event's series.count instead of creating another. Notes are redacted. Writing an
// Event never fails the caller: errors are logged and dropped.
import { ApiException, type EventsV1Api, type EventsV1Event, V1MicroTime } from '@kubernetes/client-node';
import { createHash, randomBytes } from 'node:crypto';
import { type Clock, realClock } from './clock.js';
import { type Logger, redactString, logger as rootLogger } from './logger.js';

export const REPORTING_CONTROLLER = 'idpsync.io/operator';
/** The API limit on an Event's note, in bytes. */
export const MAX_NOTE_BYTES = 1024;

export type EventType = 'Normal' | 'Warning';

/** The object an Event is about. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

/** What an Event says, as written. */
export interface EventRecord {
  regarding: ObjectRef;
  type: EventType;
  reason: string;
  action: string;
  note: string;
}

/** Where Events are written. */
export interface EventSink {
  /** Creates an Event; resolves to its name. */
  create(namespace: string, event: EventsV1Event): Promise<string>;
  /** Sets series {count, lastObservedTime} on an existing Event; throws EventGoneError if it no longer exists. */
  updateSeries(namespace: string, name: string, count: number, lastObservedTime: Date): Promise<void>;
}

/** The Event to update no longer exists (expired or deleted). */
export class EventGoneError extends Error {}

/** Records Events about objects; never throws. */
export interface Recorder {
  /** Records an Event; the promise never rejects, awaiting it is optional. */
  event(regarding: ObjectRef, type: EventType, reason: string, action: string, note: string): Promise<void>;
  /** Records an Event under a fixed name, once; resolves true once it exists. */
  eventOnce(name: string, regarding: ObjectRef, type: EventType, reason: string, action: string, note: string): Promise<boolean>;
}

/** Formats a time the way the apiserver's MicroTime expects (RFC 3339 with microseconds). */
export function microTime(ms: number): string {
  return new V1MicroTime(ms).toISOString();
}

/** An EventSink writing through client-node's EventsV1Api. */
export function eventsV1Sink(api: EventsV1Api): EventSink {
  return {
    async create(namespace, body) {
      const created = await api.createNamespacedEvent({ namespace, body });
      return created.metadata?.name ?? body.metadata?.name ?? '';
    },
    async updateSeries(namespace, name, count, lastObservedTime) {
      const patch = [{ op: 'add', path: '/series', value: { count, lastObservedTime: microTime(lastObservedTime.getTime()) } }];
      try {
        await api.patchNamespacedEvent({ name, namespace, body: patch });
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) throw new EventGoneError(`event ${namespace}/${name} is gone`);
        throw err;
      }
    },
  };
}

/** Cuts `text` to at most `maxBytes` of UTF-8, marking the cut with "…". */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const ellipsis = '…';
  let out = Buffer.from(text).subarray(0, maxBytes - Buffer.byteLength(ellipsis)).toString();
  // A cut through a multi-byte character decodes to U+FFFD; drop it.
  out = out.replace(/\uFFFD$/, '');
  return out + ellipsis;
}

export interface EventRecorderOptions {
  sink: EventSink;
  /** reportingInstance: this replica's identity (the leader election identity). */
  identity: string;
  clock?: Clock;
  logger?: Logger;
  /** Repeats within this time of the previous occurrence join its series (default 10 min). */
  dedupeWindowMs?: number;
  /** Most distinct Events remembered for de-duplication (default 4096). */
  maxTracked?: number;
}

interface Tracked {
  namespace: string;
  name?: string;
  count: number;
  lastSeen: number;
  /** Serialises writes for one series. */
  chain: Promise<void>;
}

/** Writes events.k8s.io/v1 Events, folding repeats into a series. */
export class EventRecorder implements Recorder {
  private readonly sink: EventSink;
  private readonly identity: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly windowMs: number;
  private readonly maxTracked: number;
  private readonly tracked = new Map<string, Tracked>();

  constructor(options: EventRecorderOptions) {
    this.sink = options.sink;
    this.identity = options.identity.slice(0, 128);
    this.clock = options.clock ?? realClock;
    this.log = (options.logger ?? rootLogger).child({ component: 'events' });
    this.windowMs = options.dedupeWindowMs ?? 10 * 60_000;
    this.maxTracked = options.maxTracked ?? 4096;
  }

  event(regarding: ObjectRef, type: EventType, reason: string, action: string, note: string): Promise<void> {
    const record: EventRecord = {
      regarding,
      type,
      reason: reason.slice(0, 128),
      action: action.slice(0, 128),
      note: truncateUtf8(redactString(note), MAX_NOTE_BYTES),
    };
    const now = this.clock.now();
    this.prune(now);
    const key = JSON.stringify([
      regarding.uid ?? '',
      regarding.kind,
      regarding.namespace ?? '',
      regarding.name,
      record.type,
      record.reason,
      record.action,
      record.note,
    ]);
    let entry = this.tracked.get(key);
    if (entry && now - entry.lastSeen > this.windowMs) entry = undefined;
    if (!entry) {
      entry = { namespace: regarding.namespace || 'default', count: 0, lastSeen: now, chain: Promise.resolve() };
    }
    this.tracked.delete(key); // re-insert: Map order is least recently seen first
    this.tracked.set(key, entry);
    entry.count++;
    entry.lastSeen = now;
    const target = entry;
    const count = entry.count;
    const write = entry.chain.then(() => this.write(target, record, count, now));
    entry.chain = write;
    return write;
  }

  /**
   * Writes an Event under a name the caller derives from what it reports, so that writing it again
   * (after a crash, by another replica) finds it instead of adding a second one. Resolves true once the
   * Event exists; false when it could not be written (logged), so the caller tries again later.
   */
  async eventOnce(name: string, regarding: ObjectRef, type: EventType, reason: string, action: string, note: string): Promise<boolean> {
    const namespace = regarding.namespace || 'default';
    const record: EventRecord = { regarding, type, reason: reason.slice(0, 128), action: action.slice(0, 128), note: truncateUtf8(redactString(note), MAX_NOTE_BYTES) };
    const event = this.build(namespace, record, this.clock.now());
    event.metadata = { name: eventName(name), namespace };
    try {
      await this.sink.create(namespace, event);
      return true;
    } catch (err) {
      if ((err as { code?: unknown })?.code === 409) return true;
      this.log.warn('could not write event', { regarding: `${regarding.kind}/${namespace}/${regarding.name}`, reason: record.reason, err });
      return false;
    }
  }

  private async write(entry: Tracked, record: EventRecord, count: number, now: number): Promise<void> {
    try {
      if (entry.name && count > 1) {
        try {
          await this.sink.updateSeries(entry.namespace, entry.name, count, new Date(now));
          return;
        } catch (err) {
          if (!(err instanceof EventGoneError)) throw err;
          entry.name = undefined;
        }
      }
      entry.name = await this.sink.create(entry.namespace, this.build(entry.namespace, record, now));
    } catch (err) {
      this.log.warn('could not write event', {
        regarding: `${record.regarding.kind}/${record.regarding.namespace ?? ''}/${record.regarding.name}`,
        reason: record.reason,
        err,
      });
    }
  }

  private build(namespace: string, record: EventRecord, now: number): EventsV1Event {
    const { regarding } = record;
    const suffix = `${now.toString(16)}${randomBytes(3).toString('hex')}`;
    const name = `${regarding.name.slice(0, 253 - suffix.length - 1)}.${suffix}`;
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace },
      eventTime: new V1MicroTime(now),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.identity,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: regarding.name,
        namespace: regarding.namespace,
        uid: regarding.uid,
        resourceVersion: regarding.resourceVersion,
      },
      type: record.type,
      reason: record.reason,
      action: record.action,
      note: record.note,
    };
  }

  private prune(now: number): void {
    for (const [key, entry] of this.tracked) {
      if (now - entry.lastSeen <= this.windowMs && this.tracked.size <= this.maxTracked) break;
      this.tracked.delete(key);
    }
  }
}

/** A valid Event name from any text: lower case, within 253 characters, unique through a hash when shortened. */
export function eventName(text: string): string {
  const clean = text.toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
  if (clean.length <= 253) return clean;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return `${clean.slice(0, 240)}.${hash}`;
}

/** An in-memory Recorder for tests of code that emits events. */
export class FakeRecorder implements Recorder {
  readonly events: EventRecord[] = [];
  private readonly names = new Set<string>();
  async event(regarding: ObjectRef, type: EventType, reason: string, action: string, note: string): Promise<void> {
    this.events.push({ regarding, type, reason, action, note: redactString(note) });
  }
  async eventOnce(name: string, regarding: ObjectRef, type: EventType, reason: string, action: string, note: string): Promise<boolean> {
    if (!this.names.has(name)) await this.event(regarding, type, reason, action, note);
    this.names.add(name);
    return true;
  }
}
