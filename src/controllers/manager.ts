// Wires the operator together: kube clients, the DirectorySync controller, events, metrics, health
// endpoints, leader election and graceful shutdown.
import * as k8s from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.js';
import { KeepAliveAuthentication, makeKeepAliveClient } from '../kube/connections.js';
import { identifyAs, operatorUserAgent } from '../kube/user-agent.js';
import { DRIVERS, driversWithScim } from '../providers/registry.js';
import { createLogger, registerSecret, type Logger } from '../runtime/logger.js';
import {
  idpApiCallsTotal,
  kubeWritesTotal,
  lastSuccessfulSync,
  forgetDirectory,
  revocationSignalsPending,
  revocationsTotal,
  syncDurationSeconds,
  syncTotal,
  deletionsHeld,
  directoryObjects,
  syncPhaseDurationSeconds,
} from '../runtime/metrics.js';
import { DirectorySyncController } from './directorysync/controller.js';
import { DirectorySyncReconciler, type EventSink, type SyncObserver } from './directorysync/reconciler.js';
import type { Outcome } from './directorysync/status.js';
import { API_VERSION, NOTIFIER_FIELD_MANAGER, type DirectorySync } from '../api/v1alpha1/index.js';
import { Notifier } from '../notify/notifier.js';
import { SecretOutboxStore } from '../notify/outbox.js';
import { directoryOwnerRef } from './owners.js';
import { PolicyController } from './policy/controller.js';
import { PolicyReconciler } from './policy/reconciler.js';
import { EventRecorder, eventsV1Sink, type Recorder } from '../runtime/events.js';
import { LeaderElector, coordinationLeaseClient, defaultIdentity } from '../runtime/leader.js';
import { HealthServer } from '../runtime/server.js';
import { Shutdown } from '../runtime/shutdown.js';
import { workersRunning } from '../runtime/workqueue.js';
import { OwnedObjects } from './directorysync/owned-objects.js';
import { startScim, type RunningScim } from '../scim/operator.js';
import type { ScimLimits } from '../scim/limits.js';

export interface OperatorOptions {
  kubeconfig?: string;
  /** A ready KubeConfig (tests); wins over `kubeconfig`. */
  kubeConfig?: k8s.KubeConfig;
  namespace?: string;
  metricsAddress?: string;
  leaderElect?: boolean;
  leaderElectionNamespace?: string;
  workers?: number;
  logLevel?: string;
  logger?: Logger;
  /** Replaces the Kubernetes event writer (tests). */
  events?: EventSink;
  now?: () => number;
  /** Webhook retry backoff; defaults 1 s doubling to 5 min (tests shorten it). */
  webhookBackoffMs?: { base: number; max: number };
  /** How often each credentials Secret is checked for rotation; default 30 s (tests shorten it). */
  secretCheckMs?: number;
  /** How long one read of the whole IdP may take before the sync fails with Timeout; default 10 min (tests shorten it). */
  fetchTimeoutMs?: number;
  /** How soon a listing that missed Users or Groups is confirmed by another; default 60 s (tests shorten it). */
  confirmAfterMs?: number;
  /** HOST:PORT for the SCIM server that IdPs push to; no SCIM server when absent. */
  scimAddress?: string;
  /** Serve SCIM over HTTPS with these PEM files (cert-manager compatible); plain HTTP without. */
  scimTls?: { certFile: string; keyFile: string };
  /** Request limits of the SCIM server (rate per directory token, body size, timeouts). */
  scimLimits?: Partial<ScimLimits>;
}

export interface RunningOperator {
  controller: DirectorySyncController;
  reconciler: DirectorySyncReconciler;
  policies: PolicyController;
  notifier: Notifier;
  /** The watched cache of the Users and Groups the operator owns. */
  owned: OwnedObjects;
  /** The SCIM server, when scimAddress was given. */
  scim?: RunningScim;
  stop(): Promise<void>;
}

export function loadKubeConfig(path?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/** Adapts the runtime's Event recorder to what the reconciler emits; an Event never fails a sync. */
export function recorderSink(recorder: Recorder): EventSink {
  const regarding = (ref: { kind: string; namespace: string; name: string; uid?: string }) => ({ apiVersion: API_VERSION, kind: ref.kind, namespace: ref.namespace, name: ref.name, uid: ref.uid });
  return {
    emit(ref, type, reason, note) {
      void recorder.event(regarding(ref), type, reason, 'Sync', note).catch(() => {});
    },
    once(ref, name, type, reason, note) {
      return recorder.eventOnce(name, regarding(ref), type, reason, 'Revoke', note);
    },
  };
}

/** Records outcomes of syncs as Prometheus metrics. */
export const metricsObserver: SyncObserver = {
  synced(ds: DirectorySync, outcome: Outcome, durationMs: number) {
    const labels = { namespace: ds.metadata.namespace!, directory: ds.metadata.name! };
    syncDurationSeconds.observe(labels, durationMs / 1000);
    if (outcome.kind === 'synced') {
      syncTotal.inc({ ...labels, result: outcome.plan.held ? 'held' : 'success' });
      idpApiCallsTotal.inc({ ...labels, provider: ds.spec.provider.type }, outcome.apiCalls);
      lastSuccessfulSync.set(labels, Date.now() / 1000);
      deletionsHeld.set(labels, (outcome.plan.held?.users ?? 0) + (outcome.plan.held?.groups ?? 0));
      const c = outcome.plan.counts;
      directoryObjects.set({ ...labels, kind: 'User', state: 'Active' }, c.activeUsers);
      directoryObjects.set({ ...labels, kind: 'User', state: 'Suspended' }, c.suspendedUsers);
      directoryObjects.set({ ...labels, kind: 'User', state: 'Deleted' }, c.deletedUsers);
      directoryObjects.set({ ...labels, kind: 'Group', state: 'Active' }, c.groups);
      directoryObjects.set({ ...labels, kind: 'Policy', state: 'Declared' }, outcome.plan.policies.total);
    } else {
      syncTotal.inc({ ...labels, result: outcome.error.constructor.name === 'StallError' ? 'stalled' : 'error' });
    }
  },
  phase(ds, phase, durationMs) {
    syncPhaseDurationSeconds.observe({ namespace: ds.metadata.namespace!, directory: ds.metadata.name!, phase }, durationMs / 1000);
  },
  signalsPending(namespace, directory, pending) {
    revocationSignalsPending.set({ namespace, directory }, pending);
  },
  forgotten(namespace, directory) {
    void forgetDirectory(namespace, directory);
  },
};

/** Starts the controller in this process (no leader election, no servers): for tests and the demo. */
export function startOperator(options: OperatorOptions & { events: EventSink; scim?: RunningScim }): RunningOperator {
  const kubeConfig = options.kubeConfig ?? loadKubeConfig(options.kubeconfig);
  const logger = options.logger ?? createLogger({ level: options.logLevel ?? 'info' });
  const kube = new KubeClient(kubeConfig, (kind, verb) => kubeWritesTotal.inc({ kind, verb }));
  const now = options.now ?? Date.now;
  const outboxOwner = async (namespace: string, name: string) => {
    const ds = await kube.get<DirectorySync>('DirectorySync', namespace, name);
    return ds && !ds.metadata.deletionTimestamp ? directoryOwnerRef(ds) : undefined;
  };
  // Pending revocation events are kept in a Secret per DirectorySync, so a restart or a new leader delivers them.
  const outbox = new SecretOutboxStore({
    kube,
    log: logger,
    countWrite: (kind, verb) => kubeWritesTotal.inc({ kind, verb }),
    directoryOwner: outboxOwner,
  });
  // Deliveries are struck from the User's revocation record; the reconciler that owns the records is made below.
  const late: { reconciler?: DirectorySyncReconciler; controller?: DirectorySyncController } = {};
  const notifier = new Notifier({
    now,
    log: logger,
    store: outbox,
    onSettled: (...args) => late.reconciler?.signals.settled(...args),
    ...(options.webhookBackoffMs ? { baseBackoffMs: options.webhookBackoffMs.base, maxBackoffMs: options.webhookBackoffMs.max } : {}),
    onStatusChange: (key, webhooks) => {
      const [namespace, name] = key.split('/');
      // Delivery state is written under its own field manager; a DirectorySync deleted meanwhile is not an error.
      kube.applyStatus('DirectorySync', namespace, name, { notifications: { webhooks } }, NOTIFIER_FIELD_MANAGER).catch((err) =>
        logger.debug('webhook status not written', { directory: key, error: String(err) }),
      );
    },
  });
  // SCIM pushes land in a store the scim driver reads; each write asks for a reconcile of its directory.
  // runOperator starts the server before leader election (every replica serves) and hands it in.
  const ownScim = !options.scim && options.scimAddress ? startScim({ address: options.scimAddress, tls: options.scimTls, limits: options.scimLimits, kube, log: logger }) : undefined;
  const scim = options.scim ?? ownScim;
  const policyReconciler = new PolicyReconciler({ kube, events: options.events, now });
  const policies = new PolicyController({ kubeConfig, kube, reconciler: policyReconciler, logger, namespace: options.namespace, workers: options.workers, notifier, now });
  // Users and Groups are read from a watched cache rather than listed on every sync.
  const owned = new OwnedObjects({ kubeConfig, kube, namespace: options.namespace, logger, onUserEdited: (key) => late.controller?.userEdited(key) });
  const reconciler = new DirectorySyncReconciler({
    kube: owned.kube,
    drivers: scim ? driversWithScim(scim.backend) : DRIVERS,
    events: options.events,
    log: logger,
    now,
    registerSecret,
    observer: metricsObserver,
    notifier,
    countRevocation: (labels) => revocationsTotal.inc(labels),
    onGroupsChanged: (namespace, groups) => policies.groupsChanged(namespace, groups),
    fetchTimeoutMs: options.fetchTimeoutMs,
    confirmAfterMs: options.confirmAfterMs,
  });
  late.reconciler = reconciler;
  const controller = new DirectorySyncController({ kubeConfig, kube, reconciler, logger, namespace: options.namespace, workers: options.workers, secretCheckMs: options.secretCheckMs, watchHandEdits: false });
  late.controller = controller;
  scim?.lead({ informer: controller.informer, enqueue: (key) => controller.runtime.enqueue(key) });
  owned.start();
  controller.start();
  policies.start();
  return {
    controller,
    reconciler,
    policies,
    notifier,
    owned,
    scim,
    stop: async () => {
      if (ownScim) await ownScim.stop();
      else scim?.stopLeading();
      reconciler.stop();
      await Promise.all([controller.stop(), policies.stop()]);
      owned.stop();
      await notifier.stop();
      kube.close();
    },
  };
}

/** The operator process: servers, optional leader election, the controller, graceful shutdown. */
export async function runOperator(options: OperatorOptions): Promise<void> {
  const logger = options.logger ?? createLogger({ level: options.logLevel ?? 'info' });
  process.on('unhandledRejection', (err) => logger.error('unhandled rejection', { error: String(err) }));
  const identity = defaultIdentity();
  const kubeConfig = identifyAs(options.kubeConfig ?? loadKubeConfig(options.kubeconfig), operatorUserAgent(identity));
  const connections = new KeepAliveAuthentication(kubeConfig);
  const recorder = new EventRecorder({ sink: eventsV1Sink(makeKeepAliveClient(connections, kubeConfig, k8s.EventsV1Api)), identity, logger });
  const [host, port] = splitAddress(options.metricsAddress ?? '0.0.0.0:8080');
  const server = new HealthServer({ host, port, logger });
  let running: RunningOperator | undefined;
  server.addReadinessCheck('directorysync-informer', () => !running || running.controller.informer.hasSynced());
  server.addReadinessCheck('policy-informer', () => !running || running.policies.informer.hasSynced());
  server.addReadinessCheck('owned-objects-cache', () => !running || running.owned.hasSynced());
  server.addReadinessCheck('workers', workersRunning(() => running && [running.controller.runtime.queue, running.policies.runtime.queue]));
  await server.listen();
  // Every replica serves SCIM, leader or not; only the reconcilers wait for leadership.
  const scim = options.scimAddress
    ? startScim({ address: options.scimAddress, tls: options.scimTls, limits: options.scimLimits, kube: new KubeClient(kubeConfig, (kind, verb) => kubeWritesTotal.inc({ kind, verb })), log: logger })
    : undefined;
  scim?.listening.catch((err) => {
    logger.error('cannot serve SCIM', { address: options.scimAddress, error: String(err) });
    process.exit(1);
  });

  const startWork = () => {
    running = startOperator({ ...options, kubeConfig, logger, events: recorderSink(recorder), scim });
    logger.info('controller started', { identity, namespace: options.namespace ?? '(all)' });
  };
  let elector: LeaderElector | undefined;
  let shuttingDown = false;
  if (options.leaderElect) {
    const namespace = options.leaderElectionNamespace ?? process.env.POD_NAMESPACE ?? 'idpsync-system';
    elector = new LeaderElector({
      lease: coordinationLeaseClient(makeKeepAliveClient(connections, kubeConfig, k8s.CoordinationV1Api), namespace, 'idpsync-operator'),
      identity,
      logger,
      onStartedLeading: (signal) => {
        startWork();
        // The Lease is released only after the work stopped, so the next leader reads a complete outbox.
        return new Promise<void>((resolve) => signal.addEventListener('abort', () => void running?.stop().finally(resolve), { once: true }));
      },
      onStoppedLeading: () => {
        if (shuttingDown) return;
        // Another replica leads now; restarting is the simplest way to a clean state.
        logger.warn('leadership lost; exiting');
        process.exit(1);
      },
    });
    elector.start();
  } else {
    startWork();
  }

  // Hooks run in reverse order: stop leading, then the controller, then the servers.
  const shutdown = new Shutdown({ timeoutMs: 25_000 });
  shutdown.register('health-server', () => server.close());
  shutdown.register('scim-server', async () => scim?.stop());
  shutdown.register('controller', async () => running?.stop());
  shutdown.register('leader-election', async () => {
    shuttingDown = true;
    await elector?.stop();
  });
  shutdown.install();
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at) || '0.0.0.0', Number(address.slice(at + 1))];
}
