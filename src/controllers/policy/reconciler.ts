// Reconciles one Policy: gather (the Policy, the Groups its selector could name, the Groups that own it)
// → resolve (pure) → apply (owner references and label when they change, then one status write when
// the status changed).
import { LABELS, type Group, type Policy } from '../../api/v1alpha1/index.js';
import { idHash } from '../../directory/naming.js';
import type { KubeClient } from '../../kube/client.js';
import { isConflict } from '../../kube/client.js';
import { TransientError } from '../../errors.js';
import type { EventSink } from '../directorysync/reconciler.js';
import { isGroupOwnerRef } from '../owners.js';
import { resolvePolicy } from './resolve.js';

export interface PolicyReconcilerDeps {
  kube: KubeClient;
  events: EventSink;
  now: () => number;
}

export class PolicyReconciler {
  constructor(private readonly deps: PolicyReconcilerDeps) {}

  async reconcile(namespace: string, name: string): Promise<void> {
    const { kube } = this.deps;
    const policy = await kube.get<Policy>('Policy', namespace, name);
    if (!policy || policy.metadata.deletionTimestamp) return;

    const candidates = await this.candidates(policy);
    const liveOwners = await this.liveOwners(policy, candidates);
    const resolution = resolvePolicy({ policy, candidates, liveOwners, now: new Date(this.deps.now()) });

    if (resolution.metadataPatch) {
      try {
        await kube.mergePatch('Policy', namespace, name, resolution.metadataPatch);
      } catch (err) {
        // Someone (GitOps) changed the Policy meanwhile: resolve again from what is there now.
        if (isConflict(err)) throw new TransientError('Conflict', `Policy ${namespace}/${name} changed while it was being resolved`);
        throw err;
      }
    }
    if (resolution.statusChanged) await kube.applyStatus('Policy', namespace, name, resolution.status);
    if (resolution.transition) {
      const { type, reason, note } = resolution.transition;
      this.deps.events.emit({ kind: 'Policy', namespace, name, uid: policy.metadata.uid }, type, reason, note);
    }
  }

  /** Groups the selector could name, found by name or by the label hashes of the IdP id or name. */
  private async candidates(policy: Policy): Promise<Group[]> {
    const { kube } = this.deps;
    const namespace = policy.metadata.namespace!;
    const selector = policy.spec.group;
    if (selector.name !== undefined) {
      const group = await kube.get<Group>('Group', namespace, selector.name);
      return group ? [group] : [];
    }
    const labels = [
      selector.idpId !== undefined ? `${LABELS.idpId}=${idHash(selector.idpId)}` : `${LABELS.idpNameHash}=${idHash(selector.idpName ?? '')}`,
      ...(selector.directory !== undefined ? [`${LABELS.directory}=${selector.directory}`] : []),
    ];
    return kube.list<Group>('Group', namespace, labels.join(','));
  }

  /** Owner Groups that still exist; the usual owner is among the candidates already read. */
  private async liveOwners(policy: Policy, candidates: readonly Group[]): Promise<Map<string, Group>> {
    const live = new Map<string, Group>();
    for (const ref of policy.metadata.ownerReferences ?? []) {
      if (!isGroupOwnerRef(ref)) continue;
      const group = candidates.find((g) => g.metadata.uid === ref.uid) ?? (await this.deps.kube.get<Group>('Group', policy.metadata.namespace!, ref.name));
      if (group?.metadata.uid === ref.uid) live.set(ref.uid, group);
    }
    return live;
  }
}
