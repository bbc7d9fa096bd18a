// Wires the operator together: kube clients, the DirectorySync controller, events, metrics, health
// endpoints, leader election and graceful shutdown.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.js';
import { DRIVERS } from '../providers/registry.js';
import { createLogger, registerSecret, type Logger } from '../runtime/logger.js';
import { idpApiCallsTotal, kubeWritesTotal, revocationsTotal, syncDurationSeconds, syncTotal, deletionsHeld, directoryObjects } from '../runtime/metrics.js';
import { DirectorySyncController } from './directorysync/controller.js';
import { DirectorySyncReconciler, type EventSink, type SyncObserver } from './directorysync/reconciler.js';
import type { Outcome } from './directorysync/status.js';
import type { DirectorySync } from '../api/v1alpha1/index.js';

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
}

export interface RunningOperator {
  controller: DirectorySyncController;
  reconciler: DirectorySyncReconciler;
  stop(): Promise<void>;
}

export function loadKubeConfig(path?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export function operatorIdentity(): string {
  return `${hostname()}-${randomBytes(3).toString('hex')}`;
}

/** Records outcomes of syncs as Prometheus metrics. */
export const metricsObserver: SyncObserver = {
  synced(ds: DirectorySync, outcome: Outcome, durationMs: number) {
    const labels = { namespace: ds.metadata.namespace!, directory: ds.metadata.name! };
    syncDurationSeconds.observe(labels, durationMs / 1000);
    if (outcome.kind === 'synced') {
      syncTotal.inc({ ...labels, result: outcome.plan.held ? 'held' : 'success' });
      idpApiCallsTotal.inc({ ...labels, provider: ds.spec.provider.type }, outcome.apiCalls);
      for (const r of outcome.plan.revocations) revocationsTotal.inc({ ...labels, reason: r.reason });
      deletionsHeld.set(labels, (outcome.plan.held?.users ?? 0) + (outcome.plan.held?.groups ?? 0));
      const c = outcome.plan.counts;
      directoryObjects.set({ ...labels, kind: 'User', state: 'Active' }, c.activeUsers);
      directoryObjects.set({ ...labels, kind: 'User', state: 'Suspended' }, c.suspendedUsers);
      directoryObjects.set({ ...labels, kind: 'User', state: 'Deleted' }, c.deletedUsers);
      directoryObjects.set({ ...labels, kind: 'Group', state: 'Active' }, c.groups);
    } else {
      syncTotal.inc({ ...labels, result: outcome.error.constructor.name === 'StallError' ? 'stalled' : 'error' });
    }
  },
};

/** Starts the controller in this process (no leader election, no servers): for tests and the demo. */
export function startOperator(options: OperatorOptions & { events: EventSink }): RunningOperator {
  const kubeConfig = options.kubeConfig ?? loadKubeConfig(options.kubeconfig);
  const logger = options.logger ?? createLogger({ level: options.logLevel ?? 'info' });
  const kube = new KubeClient(kubeConfig, (kind, verb) => kubeWritesTotal.inc({ kind, verb }));
  const reconciler = new DirectorySyncReconciler({
    kube,
    drivers: DRIVERS,
    events: options.events,
    log: logger,
    now: options.now ?? Date.now,
    registerSecret,
    observer: metricsObserver,
  });
  const controller = new DirectorySyncController({ kubeConfig, kube, reconciler, logger, namespace: options.namespace, workers: options.workers });
  controller.start();
  return { controller, reconciler, stop: () => controller.stop() };
}
