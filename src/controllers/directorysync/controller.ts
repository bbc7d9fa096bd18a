// Watches DirectorySyncs and feeds their keys to the reconciler through the shared controller runtime:
// on creation, on a spec change (generation), on the sync-now, approve-deletions or scim-store-changed annotation, on
// deletion; after every interval; when someone else edits what grants access on one of its Users; and
// when its credentials Secret changes. Status writes do not trigger a reconcile, so a sync never chases
// its own tail.
import type { KubeConfig } from '@kubernetes/client-node';
import { kindInformer } from '../informers.js';
import { ANNOTATIONS, type DirectorySync } from '../../api/v1alpha1/index.js';
import { objectKey, type ResilientInformer } from '../../runtime/informer.js';
import { Controller } from '../../runtime/controller.js';
import type { Logger } from '../../runtime/logger.js';
import { IdpSyncError, InternalError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { DirectorySyncReconciler } from './reconciler.js';
import { HandEditWatch } from './handedits.js';

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  kube: KubeClient;
  reconciler: DirectorySyncReconciler;
  logger: Logger;
  /** Watch one namespace only; all namespaces when absent. */
  namespace?: string;
  workers?: number;
  /** How often each directory's credentials Secret is checked for a new version. Default 30 s. */
  secretCheckMs?: number;
  /** Watch Users for edits by others here; false when the owned-object cache reports them instead. */
  watchHandEdits?: boolean;
}

/** What about an object should start a reconcile when it changes. */
function trigger(ds: DirectorySync): string {
  const a = ds.metadata.annotations ?? {};
  return JSON.stringify([ds.metadata.generation, a[ANNOTATIONS.syncNow], a[ANNOTATIONS.approveDeletions], a[ANNOTATIONS.scimStoreChanged], ds.metadata.deletionTimestamp ?? null]);
}

export class DirectorySyncController {
  readonly informer: ResilientInformer<DirectorySync>;
  readonly runtime: Controller;
  private readonly handEdits?: HandEditWatch;
  private secretCheck?: NodeJS.Timeout;

  constructor(private readonly opts: ControllerOptions) {
    this.runtime = new Controller({
      name: 'directorysync',
      workers: opts.workers ?? 2,
      logger: opts.logger,
      reconcile: async (key) => {
        const [namespace, name] = key.split('/');
        const result = await opts.reconciler.reconcile(namespace, name);
        return { requeueAfterMs: result.requeueAfterMs ?? ('recheckAfterMs' in result ? result.recheckAfterMs : undefined) };
      },
      // The reconciler reported these in status and Events already.
      isExpected: (err) => err instanceof IdpSyncError && !(err instanceof InternalError),
    });
    this.informer = kindInformer<DirectorySync>('DirectorySync', opts);
    this.informer.on('add', (ds) => this.runtime.enqueue(objectKey(ds)));
    this.informer.on('update', (ds, old) => {
      if (trigger(ds) !== trigger(old)) this.runtime.enqueue(objectKey(ds));
    });
    this.informer.on('delete', (ds) => this.runtime.enqueue(objectKey(ds)));
    if (opts.watchHandEdits !== false) {
      this.handEdits = new HandEditWatch({ kubeConfig: opts.kubeConfig, namespace: opts.namespace, log: opts.logger, onEdited: (key) => this.userEdited(key) });
    }
  }

  /** Someone else changed what grants access on a User of this directory: sync it to put the IdP's answer back. */
  userEdited(directoryKey: string): void {
    this.opts.logger.info('a User was edited outside the operator; syncing its directory to restore it', { directory: directoryKey });
    this.runtime.enqueue(directoryKey);
  }

  start(): void {
    this.informer.start();
    this.runtime.start();
    this.handEdits?.start();
    this.secretCheck = setInterval(() => void this.checkSecrets(), this.opts.secretCheckMs ?? 30_000);
    this.secretCheck.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.secretCheck);
    this.handEdits?.stop();
    await this.informer.stop();
    await this.runtime.stop();
  }

  /**
   * A rotated credential takes effect at once rather than at the next interval (or stall recheck): the
   * Secret's version now is compared with the one the last reconcile read. A poll of one GET per
   * directory, because watching Secrets would need list and watch on every Secret the operator can see.
   */
  private async checkSecrets(): Promise<void> {
    for (const ds of this.informer.list()) {
      const key = objectKey(ds);
      const used = this.opts.reconciler.secretVersionUsed(key);
      if (used === undefined) continue;
      const secret = await this.opts.kube.getSecret(ds.metadata.namespace!, ds.spec.credentialsRef.name).catch(() => undefined);
      if (secret && secret.metadata?.resourceVersion !== used) {
        this.opts.logger.info('credentials Secret changed; syncing', { directory: key });
        this.runtime.enqueue(key);
      }
    }
  }
}
