// Reconciles one DirectorySync: gather (the object, its Secret, the IdP snapshot, the objects it owns)
// → decide (pure) → apply (only what differs) → one status write, only when the status changed.
import { createHash } from 'node:crypto';
import {
  ANNOTATIONS,
  FINALIZER,
  LABELS,
  type DirectorySync,
  type DirectorySyncStatus,
  type Group,
  type Policy,
  type User,
} from '../../api/v1alpha1/index.js';
import { decide, type Plan, type PlannedEvent } from '../../directory/decide.js';
import { idHash } from '../../directory/naming.js';
import { StallError, TransientError, describeError } from '../../errors.js';
import type { DriverFactory, ProviderDriver, VerifyResult } from '../../providers/types.js';
import { KubeClient, secretData } from '../../kube/client.js';
import { parseDuration } from '../../util/duration.js';
import { mapLimit } from '../../util/concurrency.js';
import { generateSigningKey, publicKeyOf } from '../keypair.js';
import { nextStatus, type Outcome } from './status.js';
import { directoryOwnerRef, groupOwnerRef } from '../owners.js';
import { revocationEvents, webhookTargets, type RevocationNotifier } from './notifications.js';

export interface EventSink {
  emit(ref: { kind: string; namespace: string; name: string; uid?: string }, type: 'Normal' | 'Warning', reason: string, note: string): void;
}

export interface ReconcileLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface SyncObserver {
  synced?(ds: DirectorySync, outcome: Outcome, durationMs: number): void;
}

export interface ReconcilerDeps {
  kube: KubeClient;
  drivers: Record<string, DriverFactory>;
  events: EventSink;
  log: ReconcileLogger;
  now: () => number;
  /** Every credential value read is registered here so the logger can redact it. */
  registerSecret: (value: string) => void;
  observer?: SyncObserver;
  fetchTimeoutMs?: number;
  heartbeatMs?: number;
  /** Fraction of the interval added as random jitter (0.1 = up to 10%). */
  jitter?: number;
  random?: () => number;
  /** Objects written at once while applying a plan. */
  writeConcurrency?: number;
  /** Sends revocations to the webhooks in spec.notifications. */
  notifier?: RevocationNotifier;
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

  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const ds = await this.deps.kube.get<DirectorySync>('DirectorySync', namespace, name);
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
      await this.deps.kube.mergePatch('DirectorySync', namespace, name, {
        metadata: { finalizers: [...(ds.metadata.finalizers ?? []), FINALIZER], resourceVersion: ds.metadata.resourceVersion },
      });
    }
    if (ds.spec.suspend) return { stalled: true };

    const started = this.deps.now();
    const syncNow = ds.metadata.annotations?.[ANNOTATIONS.syncNow];
    const handledSyncAt = syncNow !== undefined && syncNow !== ds.status?.lastHandledSyncAt ? syncNow : undefined;

    let verify: VerifyResult | undefined;
    let webhooks: { configured: number; problems: string[] } | undefined;
    let publicKey: DirectorySyncStatus['publicKey'];
    let outcome: Outcome;
    let driver: ProviderDriver | undefined;
    try {
      const secret = await this.credentials(ds);
      publicKey = secret.publicKey;
      const stallFingerprint = fingerprintOf(ds, secret.resourceVersion);
      if (this.stalledAt.get(key) === stallFingerprint && handledSyncAt === undefined) {
        return { stalled: true, recheckAfterMs: STALL_RECHECK_MS };
      }
      this.stalledAt.delete(key);
      webhooks = await this.configureWebhooks(ds, key);
      const cached = this.driverFor(ds, secret.data, secret.resourceVersion);
      driver = cached.driver;
      if (cached.fresh) verify = await this.safeVerify(driver);
      const snapshot = await driver.fetch({
        syncOrgUnits: ds.spec.syncOrgUnits ?? false,
        signal: AbortSignal.timeout(this.deps.fetchTimeoutMs ?? 10 * 60_000),
      });
      const [existingUsers, existingGroups, existingPolicies] = await Promise.all([
        this.deps.kube.listOwned<User>('User', namespace, name),
        this.deps.kube.listOwned<Group>('Group', namespace, name),
        this.deps.kube.list<Policy>('Policy', namespace, `${LABELS.directory}=${name},${LABELS.policyRule}`),
      ]);
      const plan = decide({
        directory: { name, namespace, annotations: ds.metadata.annotations ?? {}, spec: ds.spec },
        snapshot,
        existingUsers,
        existingGroups,
        existingPolicies,
        now: new Date(this.deps.now()),
      });
      const writes = await this.apply(ds, plan, existingGroups);
      this.emit(ds, plan.events);
      this.deps.notifier?.publish(key, revocationEvents(namespace, name, plan.revocations, new Date(this.deps.now())));
      const touched = [...plan.groups.map((g) => g.name), ...plan.deletions.filter((d) => d.kind === 'Group').map((d) => d.name)];
      if (touched.length) this.deps.onGroupsChanged?.(namespace, touched);
      outcome = { kind: 'synced', plan, apiCalls: snapshot.apiCalls, writes, provider: ds.spec.provider.type };
    } catch (err) {
      const error = classify(err);
      if (error instanceof StallError && driver && !verify) verify = await this.safeVerify(driver);
      outcome = { kind: 'failed', error };
      this.deps.log.warn('sync failed', { directory: key, reason: error.reason, error: error.message });
      this.deps.events.emit(refOf(ds), 'Warning', error instanceof StallError ? 'SyncStalled' : 'SyncFailed', error.message);
    }

    const { status, changed } = nextStatus({
      previous: ds.status ?? {},
      generation: ds.metadata.generation ?? 0,
      now: new Date(this.deps.now()),
      outcome,
      verify,
      handledSyncAt,
      publicKey,
      webhooks,
      heartbeatMs: this.deps.heartbeatMs ?? 60 * 60_000,
    });
    if (changed) {
      // status.notifications belongs to the notifier's own field manager.
      const { notifications: _notifierOwned, ...own } = status;
      await this.deps.kube.applyStatus('DirectorySync', namespace, name, own);
    }
    this.deps.observer?.synced?.(ds, outcome, this.deps.now() - started);

    if (outcome.kind === 'failed') {
      if (outcome.error instanceof StallError) {
        const secretRv = (await this.deps.kube.getSecret(namespace, ds.spec.credentialsRef.name).catch(() => undefined))?.metadata?.resourceVersion;
        this.stalledAt.set(key, fingerprintOf(ds, secretRv ?? ''));
        return { stalled: true, recheckAfterMs: STALL_RECHECK_MS };
      }
      throw outcome.error;
    }
    return { requeueAfterMs: this.nextInterval(ds) };
  }

  private nextInterval(ds: DirectorySync): number {
    const interval = parseDuration(ds.spec.interval ?? '5m');
    return Math.round(interval * (1 + (this.deps.jitter ?? 0.1) * (this.deps.random ?? Math.random)()));
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
    const provider = ds.spec.provider;
    const factory = this.deps.drivers[provider.type];
    if (!factory) throw new StallError('UnsupportedProvider', `provider.type ${provider.type} is not supported by this operator version`);
    const settings = (provider as Record<string, unknown>)[provider.type] ?? {};
    const driver = factory({
      settings,
      credentials,
      caBundle: provider.caBundle,
      allowInsecureLoopback: provider.allowInsecureLoopback,
      now: this.deps.now,
    });
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

  private async safeVerify(driver: ProviderDriver): Promise<VerifyResult | undefined> {
    try {
      return await driver.verify(AbortSignal.timeout(60_000));
    } catch (err) {
      this.deps.log.warn('verify failed', { error: describeError(err) });
      return undefined;
    }
  }

  /**
   * Writes groups before users (users name their groups), then the Policies the groups own, then
   * deletions. Returns the number of writes.
   */
  private async apply(ds: DirectorySync, plan: Plan, existingGroups: readonly Group[]): Promise<number> {
    const { namespace, name } = ds.metadata as { namespace: string; name: string };
    const kube = this.deps.kube;
    const limit = this.deps.writeConcurrency ?? 8;
    const owner = directoryOwnerRef(ds);
    const meta = (objectName: string, idpId: string, labels: Record<string, string> = {}) => ({
      name: objectName,
      namespace,
      labels: { [LABELS.directory]: name, [LABELS.idpId]: idHash(idpId), [LABELS.managedBy]: 'idpsync', ...labels },
      ownerReferences: [owner],
    });
    let writes = 0;
    const groupUid = new Map(existingGroups.map((g) => [g.metadata.name!, g.metadata.uid!]));
    await mapLimit(plan.groups, limit, async (g) => {
      const stored = await kube.apply<Group>('Group', { metadata: meta(g.name, g.spec.idpId, g.labels), spec: g.spec });
      groupUid.set(g.name, stored.metadata.uid!);
      writes++;
    });
    await mapLimit(plan.users, limit, async (u) => {
      if (u.writeSpec) {
        await kube.apply('User', { metadata: meta(u.name, u.spec.idpId), spec: u.spec });
        writes++;
      }
      if (u.writeStatus) {
        await kube.applyStatus('User', namespace, u.name, u.status);
        writes++;
      }
    });
    await mapLimit(plan.policies.writes, limit, async (p) => {
      const metadata = {
        name: p.name,
        namespace,
        labels: { [LABELS.directory]: name, [LABELS.policyRule]: p.rule, [LABELS.group]: p.group, [LABELS.managedBy]: 'idpsync' },
        ownerReferences: [groupOwnerRef(p.group, groupUid.get(p.group)!, true)],
      };
      await kube.apply('Policy', { metadata, spec: p.spec });
      writes++;
    });
    await mapLimit(plan.policies.deletions, limit, async (policy) => {
      await kube.delete('Policy', namespace, policy);
      writes++;
    });
    await mapLimit(plan.deletions, limit, async (d) => {
      // Background propagation (see docs/policies.md): the Group goes at once, its members have already
      // lost it in their User objects above, and the garbage collector then removes its Policies.
      await kube.delete(d.kind, namespace, d.name, 'Background');
      writes++;
    });
    return writes;
  }

  private emit(ds: DirectorySync, events: PlannedEvent[]): void {
    for (const e of events) {
      const ref = e.kind === 'DirectorySync' ? refOf(ds) : { kind: e.kind, namespace: ds.metadata.namespace!, name: e.name };
      this.deps.events.emit(ref, e.type, e.reason, e.note);
    }
  }

  private async finalize(ds: DirectorySync): Promise<void> {
    const { namespace, name } = ds.metadata as { namespace: string; name: string };
    const kube = this.deps.kube;
    const orphan = ds.spec.deletion?.policy === 'Orphan';
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
    const finalizers = (ds.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    await kube.mergePatch('DirectorySync', namespace, name, { metadata: { finalizers, resourceVersion: ds.metadata.resourceVersion } });
    this.deps.log.info('directory removed', { directory: `${namespace}/${name}`, policy: orphan ? 'Orphan' : 'Delete' });
  }

  private forget(key: string): void {
    this.stalledAt.delete(key);
    this.drivers.delete(key);
    this.deps.notifier?.forget(key);
  }
}

function classify(err: unknown): StallError | TransientError {
  if (err instanceof StallError || err instanceof TransientError) return err;
  const code = (err as { code?: number })?.code;
  if (code === 403) return new StallError('AccessDenied', `the operator is not allowed to do this in the cluster: ${describeError(err)}`);
  return new TransientError('NetworkError', describeError(err), { cause: err });
}

function fingerprintOf(ds: DirectorySync, secretVersion: string): string {
  return `${ds.metadata.generation}/${secretVersion}/${ds.metadata.annotations?.[ANNOTATIONS.syncNow] ?? ''}`;
}

function refOf(ds: DirectorySync) {
  return { kind: 'DirectorySync', namespace: ds.metadata.namespace!, name: ds.metadata.name!, uid: ds.metadata.uid };
}
