// Reconciles one DirectorySync: gather (the object, its Secret, the IdP snapshot, the objects it owns)
// → decide (pure) → apply (safety-ordered, fail-stop) → deliver what revocation records still owe → one
// status write, only when the status changed.
import { createHash } from 'node:crypto';
import {
  ANNOTATIONS,
  FINALIZER,
  LABELS,
  type DirectorySync,
  type DirectorySyncStatus,
  type Group,
  type User,
} from '../../api/v1alpha1/index.js';
import { decide, type PlannedEvent } from '../../directory/decide.js';
import { IdpSyncError, InternalError, StallError, TransientError, describeError } from '../../errors.js';
import type { DriverFactory, ProviderDriver, VerifyResult } from '../../providers/types.js';
import { createDriver, rateLimitAnswersSince } from '../../providers/context.js';
import { listingTimedOut } from '../../providers/rate-limits.js';
import { secretData, type KubeApi } from '../../kube/client.js';
import { credentialLeakError } from '../../providers/credential-errors.js';
import { asInternalError, classifyClusterError, isClusterError } from '../../kube/errors.js';
import { parseDuration } from '../../util/duration.js';
import { mapLimit } from '../../util/concurrency.js';
import { generateSigningKey, publicKeyOf } from '../keypair.js';
import { nextStatus, progressingStatus, type Outcome } from './status.js';
import { directoryOwnerRef } from '../owners.js';
import { webhookTargets, type RevocationNotifier } from './notifications.js';
import { ApplyStopped, applyPlan, listDirectoryObjects, type ApplyResult, type RejectedObject } from './apply.js';
import { RevocationSignals, type SignalEventSink } from './signals.js';

export type EventSink = SignalEventSink;

export interface ReconcileLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface SyncObserver {
  synced?(ds: DirectorySync, outcome: Outcome, durationMs: number): void;
  /** How long one step of a sync took. */
  phase?(ds: DirectorySync, phase: SyncPhase, durationMs: number): void;
  /** Revocation signals still owed after a reconcile delivered what it could. */
  signalsPending?(namespace: string, directory: string, pending: number): void;
  /** The DirectorySync is gone: drop what is kept about it. */
  forgotten?(namespace: string, directory: string): void;
}

export type SyncPhase = 'read' | 'list' | 'plan' | 'apply' | 'signals';

export interface ReconcilerDeps {
  kube: KubeApi;
  drivers: Record<string, DriverFactory>;
  events: EventSink;
  log: ReconcileLogger;
  now: () => number;
  /** Every credential value read is registered here so the logger can redact it. */
  registerSecret: (value: string) => void;
  observer?: SyncObserver;
  fetchTimeoutMs?: number;
  /**
   * How soon after a listing that missed Users or Groups the confirming sync runs (at most the
   * interval). Default 60 s: the longest a person deleted without a suspension keeps access.
   */
  confirmAfterMs?: number;
  heartbeatMs?: number;
  /** Fraction of the interval added as random jitter (0.1 = up to 10%). */
  jitter?: number;
  random?: () => number;
  /** Objects written at once while applying a plan. */
  writeConcurrency?: number;
  /** Sends revocations to the webhooks in spec.notifications. */
  notifier?: RevocationNotifier;
  /** Counts a revocation once its record is stored (idpsync_revocations_total). */
  countRevocation?: (labels: { namespace: string; directory: string; reason: string }) => void;
  /** Told which Group objects a sync wrote or deleted, so Policies naming them are resolved again. */
  onGroupsChanged?: (namespace: string, groups: string[]) => void;
}

export type ReconcileResult =
  | { requeueAfterMs: number }
  /** Stalled or suspended: wait for a change to the object (or the slow Secret check). */
  | { requeueAfterMs?: undefined; stalled: true; recheckAfterMs?: number };

interface CachedDriver {
  fingerprint: string;
  driver: ProviderDriver;
}

const STALL_RECHECK_MS = 5 * 60_000;

export class DirectorySyncReconciler {
  private readonly drivers = new Map<string, CachedDriver>();
  /** What a stalled DirectorySync looked like, so a recheck without changes costs no IdP call. */
  private readonly stalledAt = new Map<string, string>();
  /** The credentials Secret's resourceVersion each directory's last reconcile read. */
  private readonly secretVersions = new Map<string, string>();
  /** Aborted by stop(): in-flight IdP calls end at once so the Lease can be released. */
  private readonly stopping = new AbortController();
  readonly signals: RevocationSignals;

  constructor(private readonly deps: ReconcilerDeps) {
    this.signals = new RevocationSignals({
      kube: deps.kube,
      events: deps.events,
      countRevocation: deps.countRevocation ?? (() => {}),
      notifier: deps.notifier,
      log: deps.log,
    });
  }

  /** The credentials Secret version the last reconcile of a directory read; undefined before the first. */
  secretVersionUsed(directoryKey: string): string | undefined {
    return this.secretVersions.get(directoryKey);
  }

  /** Cancels IdP calls in flight; reconciles after this return without writing anything. */
  stop(): void {
    this.stopping.abort();
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const ds = await cluster('reading the DirectorySync', () => this.deps.kube.get<DirectorySync>('DirectorySync', namespace, name));
    const key = `${namespace}/${name}`;
    if (!ds) {
      this.forget(key);
      return { stalled: true };
    }
    if (ds.metadata.deletionTimestamp) {
      await this.finalize(ds);
      this.forget(key);
      return { stalled: true };
    }
    if (!ds.metadata.finalizers?.includes(FINALIZER)) {
      await cluster('adding the finalizer', () =>
        this.deps.kube.mergePatch('DirectorySync', namespace, name, {
          metadata: { finalizers: [...(ds.metadata.finalizers ?? []), FINALIZER], resourceVersion: ds.metadata.resourceVersion },
        }),
      );
    }
    if (ds.spec.suspend) return { stalled: true };

    let previous = ds.status ?? {};
    const progressing = progressingStatus(previous, ds.metadata.generation ?? 0, new Date(this.deps.now()));
    if (progressing) {
      await this.writeStatus(ds, progressing);
      previous = progressing;
    }
    const started = this.deps.now();
    const syncNow = ds.metadata.annotations?.[ANNOTATIONS.syncNow];
    const handledSyncAt = syncNow !== undefined && syncNow !== ds.status?.lastHandledSyncAt ? syncNow : undefined;

    let verify: VerifyResult | undefined;
    let webhooks: { configured: number; problems: string[] } | undefined;
    let publicKey: DirectorySyncStatus['publicKey'];
    let outcome: Outcome;
    let driver: ProviderDriver | undefined;
    let signalsDelivered = false;
    try {
      const secret = await this.credentials(ds);
      this.secretVersions.set(key, secret.resourceVersion);
      publicKey = secret.publicKey;
      const stallFingerprint = fingerprintOf(ds, secret.resourceVersion);
      if (this.stalledAt.get(key) === stallFingerprint && handledSyncAt === undefined) {
        return { stalled: true, recheckAfterMs: STALL_RECHECK_MS };
      }
      this.stalledAt.delete(key);
      webhooks = await this.configureWebhooks(ds, key);
      const cached = this.driverFor(ds, secret.data, secret.resourceVersion);
      driver = cached.driver;
      const idp = idpCaller(secret.data, ds.spec.credentialsRef.name);
      if (cached.fresh) verify = await this.safeVerify(ds, driver, idp);
      const fetchTimeoutMs = this.deps.fetchTimeoutMs ?? 10 * 60_000;
      const fetchTimeout = AbortSignal.timeout(fetchTimeoutMs);
      const fetchStarted = this.deps.now();
      const timed = this.phaseTimer(ds, fetchStarted);
      const snapshot = await idp(() => driver!.fetch({ syncOrgUnits: ds.spec.syncOrgUnits ?? false, complete: awaitsConfirmation(ds), signal: AbortSignal.any([this.stopping.signal, fetchTimeout]) })).catch((err) => {
        if (!fetchTimeout.aborted || this.stopping.signal.aborted) throw err;
        throw listingTimedOut(fetchTimeoutMs, rateLimitAnswersSince(driver!, fetchStarted), err);
      });
      timed('read');
      const { users: existingUsers, groups: existingGroups, policies: existingPolicies } = await cluster('listing the objects of this directory', () =>
        listDirectoryObjects(this.deps.kube, namespace, name),
      );
      timed('list');
      const plan = decide({
        directory: { name, namespace, annotations: ds.metadata.annotations ?? {}, spec: ds.spec },
        snapshot,
        existingUsers,
        existingGroups,
        existingPolicies,
        now: new Date(this.deps.now()),
      });
      timed('plan');
      const touched = [...plan.groups.map((g) => g.name), ...plan.deletions.filter((d) => d.kind === 'Group').map((d) => d.name)];
      let applied: ApplyResult | undefined;
      let stopped: ApplyStopped | undefined;
      try {
        applied = await applyPlan(this.deps.kube, ds, plan, existingGroups, { concurrency: this.deps.writeConcurrency, release: true });
      } catch (err) {
        if (!(err instanceof ApplyStopped)) throw err;
        stopped = err;
      }
      timed('apply');
      // Signals are owed by what was stored, whether or not the rest of the plan was.
      await this.deliverSignals(ds, storedUsers(existingUsers, applied?.storedUsers ?? stopped?.storedUsers));
      signalsDelivered = true;
      timed('signals');
      if (stopped) throw stopped;
      this.emit(ds, plan.events);
      this.reportRejected(ds, applied!.rejected);
      if (touched.length) this.deps.onGroupsChanged?.(namespace, touched);
      outcome = { kind: 'synced', plan, apiCalls: snapshot.apiCalls, writes: applied!.writes, provider: ds.spec.provider.type, rejected: applied!.rejected };
    } catch (err) {
      if (this.stopping.signal.aborted) return { stalled: true };
      const error = classify(err);
      if (error instanceof StallError && driver && !verify) verify = await this.safeVerify(ds, driver, (fn) => fn());
      outcome = { kind: 'failed', error };
      if (error instanceof InternalError) this.deps.log.error('sync failed with an internal error', { directory: key, error: error.message, stack: (err as Error)?.stack });
      else this.deps.log.warn('sync failed', { directory: key, reason: error.reason, error: error.message });
      this.deps.events.emit(refOf(ds), 'Warning', error instanceof StallError ? 'SyncStalled' : 'SyncFailed', error.message);
      if (!signalsDelivered && !(error instanceof TransientError && error.origin === 'cluster')) await this.deliverPendingSignals(ds);
    }
    const { status, changed } = nextStatus({
      previous,
      generation: ds.metadata.generation ?? 0,
      now: new Date(this.deps.now()),
      outcome,
      verify,
      handledSyncAt,
      publicKey,
      webhooks,
      heartbeatMs: this.deps.heartbeatMs ?? 60 * 60_000,
    });
    if (changed) await this.writeStatus(ds, status);
    this.deps.observer?.synced?.(ds, outcome, this.deps.now() - started);

    if (outcome.kind === 'failed') {
      if (outcome.error instanceof StallError) {
        // The Secret version this reconcile read, not one read now: a Secret created or changed while it
        // ran (a SCIM token, a rotation) must start the next sync rather than be taken as already failed.
        this.stalledAt.set(key, fingerprintOf(ds, this.secretVersions.get(key) ?? ''));
        return { stalled: true, recheckAfterMs: STALL_RECHECK_MS };
      }
      throw outcome.error;
    }
    const unconfirmed = outcome.plan.unconfirmed.users.length + outcome.plan.unconfirmed.groups.length;
    const interval = this.nextInterval(ds);
    return { requeueAfterMs: unconfirmed ? Math.min(interval, this.deps.confirmAfterMs ?? 60_000) : interval };
  }

  /** Reports each step's duration, from the end of the one before. */
  private phaseTimer(ds: DirectorySync, from: number): (phase: SyncPhase) => void {
    let last = from;
    return (phase) => {
      const now = this.deps.now();
      this.deps.observer?.phase?.(ds, phase, now - last);
      last = now;
    };
  }

  private nextInterval(ds: DirectorySync): number {
    const interval = parseDuration(ds.spec.interval ?? '5m');
    return Math.round(interval * (1 + (this.deps.jitter ?? 0.1) * (this.deps.random ?? Math.random)()));
  }

  private async writeStatus(ds: DirectorySync, status: DirectorySyncStatus): Promise<void> {
    // status.notifications belongs to the notifier's own field manager.
    const { notifications: _notifierOwned, ...own } = status;
    await cluster('writing the DirectorySync status', () => this.deps.kube.applyStatus('DirectorySync', ds.metadata.namespace!, ds.metadata.name!, own));
  }

  private async deliverSignals(ds: DirectorySync, users: User[]): Promise<void> {
    const report = await this.signals.deliver(ds, users);
    this.deps.observer?.signalsPending?.(ds.metadata.namespace!, ds.metadata.name!, report.pending);
  }

  /** Delivers what revocation records still owe when the sync itself could not run (the IdP failed, say). */
  private async deliverPendingSignals(ds: DirectorySync): Promise<void> {
    try {
      await this.deliverSignals(ds, await this.deps.kube.listOwned<User>('User', ds.metadata.namespace!, ds.metadata.name!));
    } catch (err) {
      this.deps.log.warn('pending revocation signals not delivered; the next reconcile tries again', { directory: `${ds.metadata.namespace}/${ds.metadata.name}`, error: describeError(err).split('\n')[0] });
    }
  }

  private reportRejected(ds: DirectorySync, rejected: readonly RejectedObject[]): void {
    for (const r of rejected) {
      this.deps.events.emit(refOf(ds), 'Warning', 'ObjectRejected', `The apiserver refused ${r.kind} ${r.name}; it was skipped and everything else synced: ${r.message}`);
    }
  }

  private async credentials(ds: DirectorySync): Promise<{ data: Record<string, string>; resourceVersion: string; publicKey?: DirectorySyncStatus['publicKey'] }> {
    const { namespace, name } = ds.metadata as { namespace: string; name: string };
    const ref = ds.spec.credentialsRef;
    let secret = await this.deps.kube.getSecret(namespace, ref.name);
    if (!secret && ref.generateKeyPair) {
      const key = await generateSigningKey();
      await this.deps.kube.createSecret({
        metadata: {
          name: ref.name,
          namespace,
          labels: { [LABELS.directory]: name, [LABELS.managedBy]: 'idpsync' },
          ownerReferences: [directoryOwnerRef(ds)],
        },
        type: 'Opaque',
        stringData: { privateKey: key.privateKeyPem, keyId: key.publicKey.keyId },
      });
      this.deps.events.emit(refOf(ds), 'Normal', 'KeyPairGenerated', `Generated a key pair in Secret ${ref.name}; register status.publicKey (kid ${key.publicKey.keyId}) in the IdP`);
      secret = await this.deps.kube.getSecret(namespace, ref.name);
    }
    if (!secret) {
      // Remembered as no version at all, so the Secret's creation starts a sync (see secretVersionUsed).
      this.secretVersions.set(`${namespace}/${name}`, '');
      throw new StallError('SecretNotFound', `Secret ${namespace}/${ref.name} named in spec.credentialsRef does not exist`);
    }
    const data = secretData(secret);
    for (const value of Object.values(data)) this.deps.registerSecret(value);
    const publicKey = ref.generateKeyPair && data.privateKey ? await publicKeyOf(data.privateKey).catch(() => undefined) : undefined;
    return { data, resourceVersion: secret.metadata?.resourceVersion ?? '', publicKey };
  }

  private driverFor(ds: DirectorySync, credentials: Record<string, string>, secretVersion: string): { driver: ProviderDriver; fresh: boolean } {
    const key = `${ds.metadata.namespace}/${ds.metadata.name}`;
    const fingerprint = createHash('sha256').update(JSON.stringify(ds.spec.provider)).update(secretVersion).digest('hex');
    const cached = this.drivers.get(key);
    if (cached?.fingerprint === fingerprint) return { driver: cached.driver, fresh: false };
    const driver = createDriver(this.deps.drivers, ds, credentials, this.deps.now);
    if (cached) void closeDriver(cached.driver);
    this.drivers.set(key, { fingerprint, driver });
    return { driver, fresh: true };
  }

  private async configureWebhooks(ds: DirectorySync, key: string): Promise<{ configured: number; problems: string[] } | undefined> {
    const notifier = this.deps.notifier;
    if (!notifier) return undefined;
    const { targets, problems } = await webhookTargets(ds, this.deps.kube, this.deps.registerSecret);
    notifier.configure(key, targets);
    return { configured: targets.filter((t) => t.secret !== '').length, problems };
  }

  private async safeVerify(ds: DirectorySync, driver: ProviderDriver, idp: IdpCaller): Promise<VerifyResult | undefined> {
    try {
      const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(60_000)]);
      return await idp(() => driver.verify({ signal, syncOrgUnits: ds.spec.syncOrgUnits ?? false }));
    } catch (err) {
      this.deps.log.warn('verify failed', { error: describeError(err) });
      return undefined;
    }
  }

  private emit(ds: DirectorySync, events: PlannedEvent[]): void {
    for (const e of events) {
      const ref = e.kind === 'DirectorySync' ? refOf(ds) : { kind: e.kind, namespace: ds.metadata.namespace!, name: e.name };
      this.deps.events.emit(ref, e.type, e.reason, e.note);
    }
  }

  /**
   * Removes (or, with deletion.policy Orphan, releases) the directory's Users and Groups, then the
   * finalizer. Failures the operator could retry (the apiserver unavailable) keep the finalizer and are
   * retried; anything else is reported as an Event and the finalizer goes anyway: a finalizer must never
   * hold a deletion on an error no retry can fix. The garbage collector still removes owned objects.
   */
  private async finalize(ds: DirectorySync): Promise<void> {
    const { namespace, name } = ds.metadata as { namespace: string; name: string };
    const kube = this.deps.kube;
    const orphan = ds.spec.deletion?.policy === 'Orphan';
    try {
      for (const kind of ['User', 'Group'] as const) {
        const owned = await kube.listOwned<User | Group>(kind, namespace, name);
        await mapLimit(owned, this.deps.writeConcurrency ?? 8, async (obj) => {
          if (orphan) {
            const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== ds.metadata.uid);
            await kube.mergePatch(kind, namespace, obj.metadata.name!, { metadata: { ownerReferences: refs.length ? refs : null } });
          } else {
            await kube.delete(kind, namespace, obj.metadata.name!);
          }
        });
      }
    } catch (err) {
      const error = classify(err);
      if (error instanceof TransientError && (error.reason === 'ApiServerUnavailable' || error.reason === 'Conflict')) throw error;
      this.deps.events.emit(refOf(ds), 'Warning', 'CleanupIncomplete', `Removing the finalizer although cleanup failed (no retry can fix it): ${error.message}`);
    }
    const finalizers = (ds.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    await cluster('removing the finalizer', () => kube.mergePatch('DirectorySync', namespace, name, { metadata: { finalizers, resourceVersion: ds.metadata.resourceVersion } }));
    this.deps.log.info('directory removed', { directory: `${namespace}/${name}`, policy: orphan ? 'Orphan' : 'Delete' });
  }

  private forget(key: string): void {
    const [namespace, name] = key.split('/');
    this.deps.observer?.forgotten?.(namespace, name);
    this.signals.forget(key);
    this.secretVersions.delete(key);
    this.stalledAt.delete(key);
    const cached = this.drivers.get(key);
    if (cached) void closeDriver(cached.driver);
    this.drivers.delete(key);
    this.deps.notifier?.forget(key);
  }
}

/** Releases a replaced driver's connections; a failure to close is of no consequence to anyone. */
async function closeDriver(driver: ProviderDriver): Promise<void> {
  await driver.close?.().catch(() => undefined);
}

type IdpCaller = <T>(call: () => Promise<T>) => Promise<T>;

/**
 * Calls the IdP. An error whose text carries a credential (an invalid header value quotes it) is a
 * Stall that names the Secret key and never the value; one the driver did not type is a bug.
 */
function idpCaller(credentials: Record<string, string>, secretName: string): IdpCaller {
  return async (call) => {
    try {
      return await call();
    } catch (err) {
      const leak = credentialLeakError(err, credentials, secretName);
      if (leak) throw leak;
      if (err instanceof IdpSyncError) throw err;
      throw asInternalError(err);
    }
  };
}

/**
 * Runs apiserver calls; their failures become typed errors that say what the operator was doing. Every
 * untyped failure here is the apiserver's, a refused connection (which carries no HTTP status) included.
 */
async function cluster<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof IdpSyncError) throw err;
    throw classifyClusterError(err, doing);
  }
}

function classify(err: unknown): StallError | TransientError | InternalError {
  if (err instanceof ApplyStopped) {
    const failure = classify(err.failure);
    if (failure instanceof StallError) return new StallError(failure.reason, err.message, { cause: err });
    if (failure instanceof TransientError) return new TransientError(failure.reason, err.message, { cause: err, origin: failure.origin, retryAfterMs: failure.retryAfterMs });
    return new InternalError(err.message, { cause: err });
  }
  if (err instanceof StallError || err instanceof TransientError || err instanceof InternalError) return err;
  if (isClusterError(err)) return classifyClusterError(err, 'calling the apiserver') as StallError | TransientError;
  return asInternalError(err);
}

/** The directory's Users as they are now: as listed, with what this sync stored in their place. */
function storedUsers(listed: readonly User[], stored: ReadonlyMap<string, User> | undefined): User[] {
  if (!stored?.size) return [...listed];
  const byName = new Map(listed.map((u) => [u.metadata.name!, u]));
  for (const [name, user] of stored) byName.set(name, user);
  return [...byName.values()];
}

function fingerprintOf(ds: DirectorySync, secretVersion: string): string {
  return `${ds.metadata.generation}/${secretVersion}/${ds.metadata.annotations?.[ANNOTATIONS.syncNow] ?? ''}`;
}

function refOf(ds: DirectorySync) {
  return { kind: 'DirectorySync', namespace: ds.metadata.namespace!, name: ds.metadata.name!, uid: ds.metadata.uid };
}

/** The last sync marked people or groups missing from its listing: this one must list everything to confirm it. */
function awaitsConfirmation(ds: DirectorySync): boolean {
  const counts = ds.status?.counts;
  return (counts?.missingUsers ?? 0) > 0 || (counts?.missingGroups ?? 0) > 0;
}
