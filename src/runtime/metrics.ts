// The operator's Prometheus metrics, all on one registry served at /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The one registry every idpsync metric (and the Node.js process metrics) lives in. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const registers = [registry];

/** Reconciles of a DirectorySync, by result (success | stalled | error | held ...). */
export const syncTotal = new Counter({
  name: 'idpsync_sync_total',
  help: 'DirectorySync reconciles, by result.',
  labelNames: ['namespace', 'directory', 'result'] as const,
  registers,
});

/** Wall time of one DirectorySync reconcile, IdP fetch included. */
export const syncDurationSeconds = new Histogram({
  name: 'idpsync_sync_duration_seconds',
  help: 'Duration of a DirectorySync reconcile, IdP fetch included.',
  labelNames: ['namespace', 'directory'] as const,
  buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
  registers,
});

/**
 * Wall time of each step of a sync, once the step has ended: reading the IdP (read), gathering what
 * exists (list), planning (plan), writing (apply) and delivering revocation signals (signals). A sync
 * that fails while reading, listing or planning reports the steps before only; one whose writes stop
 * part way still reports apply and signals, since the signals of what was stored are delivered.
 */
export const syncPhaseDurationSeconds = new Histogram({
  name: 'idpsync_sync_phase_duration_seconds',
  help: 'Duration of each step of a DirectorySync sync: read, list, plan, apply, signals.',
  labelNames: ['namespace', 'directory', 'phase'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
  registers,
});

/** HTTP requests made to an identity provider. */
export const idpApiCallsTotal = new Counter({
  name: 'idpsync_idp_api_calls_total',
  help: 'HTTP requests made to identity provider APIs.',
  labelNames: ['namespace', 'directory', 'provider'] as const,
  registers,
});

/** Writes to the Kubernetes API, by kind and verb (apply, delete, patch-status ...). */
export const kubeWritesTotal = new Counter({
  name: 'idpsync_kube_writes_total',
  help: 'Writes to the Kubernetes API, by kind and verb.',
  labelNames: ['kind', 'verb'] as const,
  registers,
});

/** Objects a DirectorySync manages, by kind (User | Group | Policy) and state. */
export const directoryObjects = new Gauge({
  name: 'idpsync_directory_objects',
  help: 'Objects managed by a DirectorySync, by kind and state.',
  labelNames: ['namespace', 'directory', 'kind', 'state'] as const,
  registers,
});

/** Access revocations (user deactivated, removed from group ...), by reason. */
export const revocationsTotal = new Counter({
  name: 'idpsync_revocations_total',
  help: 'Access revocations applied, by reason.',
  labelNames: ['namespace', 'directory', 'reason'] as const,
  registers,
});

/** Deletions currently held back by the deletion guard. */
export const deletionsHeld = new Gauge({
  name: 'idpsync_deletions_held',
  help: 'Deletions currently held back by the deletion guard.',
  labelNames: ['namespace', 'directory'] as const,
  registers,
});

/** Keys waiting in a work queue (not counting delayed or in-flight keys). */
export const workqueueDepth = new Gauge({
  name: 'idpsync_workqueue_depth',
  help: 'Keys waiting in a work queue.',
  labelNames: ['name'] as const,
  registers,
});

/** Keys re-queued with rate-limited backoff after a failure. */
export const workqueueRetriesTotal = new Counter({
  name: 'idpsync_workqueue_retries_total',
  help: 'Keys re-queued with backoff after a failure.',
  labelNames: ['name'] as const,
  registers,
});

/** Informer restarts after a list/watch failure or a stalled watch. */
export const informerRestartsTotal = new Counter({
  name: 'idpsync_informer_restarts_total',
  help: 'Informer restarts after a list/watch error or a stalled watch.',
  labelNames: ['resource'] as const,
  registers,
});

/** 1 while this replica holds the leader Lease, else 0. */
export const leader = new Gauge({
  name: 'idpsync_leader',
  help: '1 while this replica holds the leader election Lease.',
  registers,
});
leader.set(0);

/**
 * Revocation notifications sent to a DirectorySync's webhooks, by result: success (one per event
 * delivered), failure (one per failed attempt; the event is retried) or dropped (given up on).
 */
export const webhookDeliveriesTotal = new Counter({
  name: 'idpsync_webhook_deliveries_total',
  help: 'Outbound webhook notification deliveries, by result (success, failure per attempt, dropped).',
  labelNames: ['namespace', 'directory', 'webhook', 'result'] as const,
  registers,
});

/** Notifications waiting to be delivered to a webhook. */
export const webhookPending = new Gauge({
  name: 'idpsync_webhook_pending',
  help: 'Outbound webhook notifications waiting to be delivered.',
  labelNames: ['namespace', 'directory', 'webhook'] as const,
  registers,
});

/** When each DirectorySync last synced successfully (alert when it is older than a few intervals). */
export const lastSuccessfulSync = new Gauge({
  name: 'idpsync_last_successful_sync_timestamp_seconds',
  help: 'Unix time of the last successful sync of a DirectorySync.',
  labelNames: ['namespace', 'directory'] as const,
  registers,
});

/** Revocation signals (Events, metric increments, webhooks) recorded on Users and not delivered yet. */
export const revocationSignalsPending = new Gauge({
  name: 'idpsync_revocation_signals_pending',
  help: 'Revocation signals recorded on Users and not yet delivered, after the last reconcile.',
  labelNames: ['namespace', 'directory'] as const,
  registers,
});

const perDirectoryMetrics = [
  lastSuccessfulSync,
  revocationSignalsPending,
  syncTotal,
  syncDurationSeconds,
  syncPhaseDurationSeconds,
  idpApiCallsTotal,
  directoryObjects,
  revocationsTotal,
  deletionsHeld,
] as const;

/** Drops every series of one DirectorySync (call when it is deleted, so no stale series stay). */
export async function forgetDirectory(namespace: string, directory: string): Promise<void> {
  for (const metric of perDirectoryMetrics) {
    const { values } = await metric.get();
    const seen = new Set<string>();
    for (const { labels } of values) {
      if (labels.namespace !== namespace || labels.directory !== directory) continue;
      // Histograms report one value per bucket; remove the series by its own labels, once.
      const { le: _le, ...own } = labels as Record<string, string | number>;
      const id = JSON.stringify(own);
      if (seen.has(id)) continue;
      seen.add(id);
      (metric as { remove(labels: Record<string, string | number>): void }).remove(own);
    }
  }
}
