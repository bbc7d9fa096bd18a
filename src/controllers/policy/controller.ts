// Watches Policies and resolves each one to its Group: on creation, on a spec or owner change, when a
// sync wrote or deleted Groups in its namespace, and every few minutes in case a trigger was missed.
// A Policy that goes away (deleted by a person, or by the garbage collector with its Group) is
// announced to the revocation webhooks of its directory.
import type { KubeConfig } from '@kubernetes/client-node';
import { kindInformer } from '../informers.js';
import { LABELS, type Group, type Policy } from '../../api/v1alpha1/index.js';
import { objectKey, type ResilientInformer } from '../../runtime/informer.js';
import { Controller } from '../../runtime/controller.js';
import type { Logger } from '../../runtime/logger.js';
import type { KubeClient } from '../../kube/client.js';
import { getCondition } from '../conditions.js';
import { policyRemovedEvent, type RevocationNotifier } from '../directorysync/notifications.js';
import { PolicyReconciler } from './reconciler.js';

export interface PolicyControllerOptions {
  kubeConfig: KubeConfig;
  kube: KubeClient;
  reconciler: PolicyReconciler;
  logger: Logger;
  namespace?: string;
  workers?: number;
  notifier?: Pick<RevocationNotifier, 'publish'>;
  now?: () => number;
  /** Every Policy is resolved again this often. Default 10 minutes. */
  resyncMs?: number;
}

function trigger(p: Policy): string {
  return JSON.stringify([p.metadata.generation, (p.metadata.ownerReferences ?? []).map((r) => r.uid), p.metadata.labels ?? {}]);
}

export class PolicyController {
  readonly informer: ResilientInformer<Policy>;
  readonly runtime: Controller;
  private resync?: NodeJS.Timeout;

  constructor(private readonly opts: PolicyControllerOptions) {
    this.runtime = new Controller({
      name: 'policy',
      workers: opts.workers ?? 2,
      logger: opts.logger,
      reconcile: async (key) => {
        const [namespace, name] = key.split('/');
        await opts.reconciler.reconcile(namespace, name);
      },
    });
    this.informer = kindInformer<Policy>('Policy', opts);
    this.informer.on('add', (p) => this.runtime.enqueue(objectKey(p)));
    this.informer.on('update', (p, old) => {
      if (trigger(p) !== trigger(old)) this.runtime.enqueue(objectKey(p));
    });
    this.informer.on('delete', (p) => void this.announceRemoval(p));
  }

  start(): void {
    this.informer.start();
    this.runtime.start();
    this.resync = setInterval(() => {
      for (const p of this.informer.list()) this.runtime.enqueue(objectKey(p));
    }, this.opts.resyncMs ?? 10 * 60_000);
    this.resync.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.resync);
    await this.informer.stop();
    await this.runtime.stop();
  }

  /**
   * A sync wrote or deleted these Groups. Resolve again every Policy that could be affected: those
   * resolved to one of them, those naming one, and those not resolved to anything yet.
   */
  groupsChanged(namespace: string, groups: readonly string[]): void {
    const touched = new Set(groups);
    for (const p of this.informer.list(namespace)) {
      const resolved = getCondition(p.status?.conditions, 'Ready')?.status === 'True' ? p.status?.resolvedGroup : undefined;
      const affected =
        resolved === undefined || touched.has(resolved) || (p.spec.group.name !== undefined && touched.has(p.spec.group.name)) || p.spec.group.idpName !== undefined;
      if (affected) this.runtime.enqueue(objectKey(p));
    }
  }

  private async announceRemoval(policy: Policy): Promise<void> {
    const directory = policy.status?.directory ?? policy.metadata.labels?.[LABELS.directory];
    if (!this.opts.notifier || !directory) return;
    const namespace = policy.metadata.namespace!;
    const group = policy.status?.resolvedGroup;
    const groupGone = group === undefined || !(await this.opts.kube.get<Group>('Group', namespace, group).catch(() => undefined));
    const event = policyRemovedEvent(
      { namespace, directory, policy: policy.metadata.name!, group, reason: groupGone ? 'GroupDeleted' : 'PolicyDeleted', resources: policy.spec.resources },
      new Date((this.opts.now ?? Date.now)()),
    );
    this.opts.notifier.publish(`${namespace}/${directory}`, [event]);
  }
}
