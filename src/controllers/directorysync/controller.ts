// Watches DirectorySyncs and feeds their keys to the reconciler through a work queue: on creation, on a
// spec change (generation), on the sync-now or approve-deletions annotation, on deletion; and again
// after every interval. Status writes do not trigger a reconcile, so a sync never chases its own tail.
import type { KubeConfig } from '@kubernetes/client-node';
import { kindInformer } from '../informers.js';
import { ANNOTATIONS, type DirectorySync } from '../../api/v1alpha1/index.js';
import { objectKey, type ResilientInformer } from '../../runtime/informer.js';
import { WorkQueue, runWorkers } from '../../runtime/workqueue.js';
import type { Logger } from '../../runtime/logger.js';
import { TransientError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { DirectorySyncReconciler } from './reconciler.js';

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  kube: KubeClient;
  reconciler: DirectorySyncReconciler;
  logger: Logger;
  /** Watch one namespace only; all namespaces when absent. */
  namespace?: string;
  workers?: number;
}

/** What about an object should start a reconcile when it changes. */
function trigger(ds: DirectorySync): string {
  const a = ds.metadata.annotations ?? {};
  return JSON.stringify([ds.metadata.generation, a[ANNOTATIONS.syncNow], a[ANNOTATIONS.approveDeletions], ds.metadata.deletionTimestamp ?? null]);
}

export class DirectorySyncController {
  readonly queue = new WorkQueue({ name: 'directorysync' });
  readonly informer: ResilientInformer<DirectorySync>;
  private workers?: Promise<void>;

  constructor(private readonly opts: ControllerOptions) {
    this.informer = kindInformer<DirectorySync>('DirectorySync', opts);
    this.informer.on('add', (ds) => this.queue.add(objectKey(ds)));
    this.informer.on('update', (ds, old) => {
      if (trigger(ds) !== trigger(old)) this.queue.add(objectKey(ds));
    });
    this.informer.on('delete', (ds) => this.queue.add(objectKey(ds)));
  }

  start(): void {
    this.informer.start();
    this.workers = runWorkers(this.queue, this.opts.workers ?? 2, (key) => this.process(key));
  }

  async stop(): Promise<void> {
    this.queue.shutdown();
    await this.informer.stop();
    await this.workers;
  }

  private async process(key: string): Promise<void> {
    const [namespace, name] = key.split('/');
    try {
      const result = await this.opts.reconciler.reconcile(namespace, name);
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      else if ('recheckAfterMs' in result && result.recheckAfterMs) this.queue.addAfter(key, result.recheckAfterMs);
    } catch (err) {
      if (err instanceof TransientError && err.retryAfterMs !== undefined) {
        this.queue.addAfter(key, Math.max(err.retryAfterMs, 1000));
      } else {
        this.queue.addRateLimited(key);
      }
      if (!(err instanceof TransientError)) this.opts.logger.error('reconcile failed', { key, error: String(err) });
    }
  }
}
