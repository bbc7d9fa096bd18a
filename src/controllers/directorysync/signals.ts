// Delivers what each revocation record on a User still owes (status.revocations[].pending): a Warning or
// Normal Event on the User, an idpsync_revocations_total increment, a CloudEvent per webhook. Each is
// struck from `pending` once it went out, with a write conditional on the User's resourceVersion.
//
// A crash, a failed write or a change of leader between the record and its signals only delays them:
// the next reconcile finds the record still pending and delivers again. Nothing is sent twice by
// design: the Event has a name derived from the record (a second create finds it exists), the
// CloudEvent an id derived from it (queues skip it; receivers de-duplicate on webhook-id). Only the
// window between a delivery and the write that records it can repeat a signal, never lose one.
import { SIGNAL_EVENT, SIGNAL_METRIC, type DirectorySync, type RevocationRecord, type User, webhookSignal } from '../../api/v1alpha1/index.js';
import type { OperatorUserSpec } from '../../directory/decide.js';
import { type KubeApi, isConflict, isNotFound } from '../../kube/client.js';
import type { CloudEvent } from '../../notify/cloudevent.js';
import { userApplyBody } from './apply.js';
import { parseRevocationEventId, revocationEvent, type RevocationNotifier } from './notifications.js';

export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

export interface SignalEventSink {
  /** Writes an Event with this exact name; resolves true once it exists (created now or before). */
  once(ref: ObjectRef, eventName: string, type: 'Normal' | 'Warning', reason: string, note: string): Promise<boolean>;
  emit(ref: ObjectRef, type: 'Normal' | 'Warning', reason: string, note: string): void;
}

export interface SignalLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
}

export interface SignalDeps {
  kube: KubeApi;
  events: SignalEventSink;
  countRevocation: (labels: { namespace: string; directory: string; reason: string }) => void;
  notifier?: RevocationNotifier;
  log: SignalLogger;
}

export interface DeliveryReport {
  /** Signals delivered and recorded as such in this pass. */
  delivered: number;
  /** Signals still owed after this pass (webhooks in flight included). */
  pending: number;
}

const EVENT_TEXT: Record<RevocationRecord['reason'], { type: 'Normal' | 'Warning'; reason: string; text: string }> = {
  Suspended: { type: 'Warning', reason: 'UserSuspended', text: 'is suspended in the IdP' },
  Deleted: { type: 'Warning', reason: 'UserDeleted', text: 'was deleted in the IdP' },
  RemovedFromGroups: { type: 'Normal', reason: 'MembershipRevoked', text: 'left' },
};

/** At most this many record writes at once. */
const MARK_CONCURRENCY = 8;
const MARK_ATTEMPTS = 4;

export class RevocationSignals {
  /** Directories whose DirectorySync we know, so a webhook delivery can be recorded on its User. */
  private readonly directories = new Map<string, DirectorySync>();
  /** Serialises record writes per User. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly deps: SignalDeps) {}

  /** Delivers every signal the given Users' records still owe. */
  async deliver(ds: DirectorySync, users: Iterable<User>): Promise<DeliveryReport> {
    const namespace = ds.metadata.namespace!;
    const directory = ds.metadata.name!;
    this.directories.set(`${namespace}/${directory}`, ds);
    const owing = [...users].filter((u) => u.status?.revocations?.some((r) => r.pending.length > 0));
    const report: DeliveryReport = { delivered: 0, pending: 0 };
    const announced: { login: string; reason: string }[] = [];
    const queue = [...owing];
    const worker = async () => {
      for (let user = queue.shift(); user; user = queue.shift()) {
        const done = new Map<string, Set<string>>();
        for (const record of user.status!.revocations!) {
          const sent = await this.sendOwed(ds, user, record);
          if (sent.has(SIGNAL_EVENT) && record.reason !== 'RemovedFromGroups') announced.push({ login: user.spec.login, reason: record.reason });
          if (sent.size) done.set(record.id, sent);
          report.pending += record.pending.length - sent.size;
        }
        if (done.size && (await this.strike(ds, user.metadata.name!, done, user))) {
          report.delivered += [...done.values()].reduce((n, s) => n + s.size, 0);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(MARK_CONCURRENCY, owing.length) }, worker));
    if (announced.length) this.announce(ds, announced);
    return report;
  }

  /** The notifier finished with a CloudEvent: strike its webhook from the record it came from. */
  settled(directoryKey: string, webhook: string, event: CloudEvent, outcome: 'delivered' | 'dropped'): void {
    const ds = this.directories.get(directoryKey);
    const origin = parseRevocationEventId(event.id);
    if (!ds || !origin || !event.subject?.startsWith('users/')) return;
    if (outcome === 'dropped') {
      this.deps.log.warn('a revocation notification was dropped; it is no longer owed', { directory: directoryKey, webhook, user: origin.user });
    }
    void this.strike(ds, origin.user, new Map([[origin.recordId, new Set([webhookSignal(webhook)])]]));
  }

  forget(directoryKey: string): void {
    this.directories.delete(directoryKey);
  }

  /** Sends what the record owes and can be sent now; returns the signals that went out for good. */
  private async sendOwed(ds: DirectorySync, user: User, record: RevocationRecord): Promise<Set<string>> {
    const namespace = ds.metadata.namespace!;
    const directory = ds.metadata.name!;
    const name = user.metadata.name!;
    const sent = new Set<string>();
    if (record.pending.includes(SIGNAL_EVENT)) {
      const text = EVENT_TEXT[record.reason];
      const what = record.reason === 'RemovedFromGroups' ? `${text.text} ${record.groups.join(', ')}` : `${text.text}: removed from ${record.groups.length} group(s), access revoked`;
      const ref = { kind: 'User', namespace, name, uid: user.metadata.uid };
      if (await this.deps.events.once(ref, `${name}.${record.id}`, text.type, text.reason, `${user.spec.login} ${what}`.slice(0, 1000))) sent.add(SIGNAL_EVENT);
    }
    const webhooks = record.pending.filter((p) => p !== SIGNAL_EVENT && p !== SIGNAL_METRIC);
    // Webhooks are struck when the notifier reports the delivery (settled()).
    if (webhooks.length && this.deps.notifier) {
      this.deps.notifier.publish(`${namespace}/${directory}`, [revocationEvent(namespace, directory, { name, login: user.spec.login }, record)]);
    }
    // Counted last, right before the write that strikes it: only a process that dies while that write is
    // in flight counts it twice (its own count dies with it).
    if (record.pending.includes(SIGNAL_METRIC)) {
      this.deps.countRevocation({ namespace, directory, reason: record.reason });
      sent.add(SIGNAL_METRIC);
    }
    return sent;
  }

  /**
   * Removes delivered signals from the User's records: a server-side apply of the whole User (the same
   * field manager owns the records) conditional on its resourceVersion, read again after a conflict.
   */
  /** Never rejects: a signal whose delivery could not be recorded is simply delivered again later. */
  private strike(ds: DirectorySync, userName: string, done: Map<string, Set<string>>, known?: User): Promise<boolean> {
    const key = `${ds.metadata.namespace}/${userName}`;
    const run = (this.chains.get(key) ?? Promise.resolve()).then(() => this.writeStruck(ds, userName, done, known));
    const chained = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, chained);
    void chained.then(() => {
      if (this.chains.get(key) === chained) this.chains.delete(key);
    });
    return run;
  }

  private async writeStruck(ds: DirectorySync, userName: string, done: Map<string, Set<string>>, known?: User): Promise<boolean> {
    const namespace = ds.metadata.namespace!;
    let user = known;
    const notRecorded = (err: unknown) => {
      this.deps.log.warn('could not record delivered revocation signals; they will be delivered again', { user: `${namespace}/${userName}`, error: String((err as Error)?.message ?? err).split('\n')[0] });
      return false;
    };
    for (let attempt = 0; attempt < MARK_ATTEMPTS; attempt++) {
      try {
        user ??= await this.deps.kube.get<User>('User', namespace, userName);
      } catch (err) {
        return notRecorded(err);
      }
      if (!user?.status?.revocations) return false;
      const records = user.status.revocations.map((r) => (done.has(r.id) ? { ...r, pending: r.pending.filter((p) => !done.get(r.id)!.has(p)) } : r));
      if (records.every((r, i) => r.pending.length === user!.status!.revocations![i].pending.length)) return true;
      const { role: _role, ...spec } = user.spec;
      try {
        await this.deps.kube.apply('User', userApplyBody(ds, { name: userName, spec: spec as OperatorUserSpec, status: { ...user.status, revocations: records } }, user.metadata.resourceVersion));
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        if (!isConflict(err)) return notRecorded(err);
        user = undefined;
      }
    }
    return false;
  }

  private announce(ds: DirectorySync, revoked: { login: string; reason: string }[]): void {
    const sample = revoked.slice(0, 10).map((r) => `${r.login} (${r.reason.toLowerCase()})`).join(', ');
    this.deps.events.emit(
      { kind: 'DirectorySync', namespace: ds.metadata.namespace!, name: ds.metadata.name!, uid: ds.metadata.uid },
      'Warning',
      'AccessRevoked',
      `Revoked access for ${revoked.length} user(s): ${sample}${revoked.length > 10 ? ', …' : ''}`,
    );
  }
}
