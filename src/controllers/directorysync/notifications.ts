// Turns a DirectorySync's spec.notifications into webhook targets (reading each signing Secret) and a
// sync's revocations into the CloudEvents those targets receive.
import type { DirectorySync, NotificationType } from '../../api/v1alpha1/index.js';
import type { Revocation } from '../../directory/decide.js';
import type { KubeClient } from '../../kube/client.js';
import { secretData } from '../../kube/client.js';
import { describeError } from '../../errors.js';
import { directorySource, newCloudEvent, type CloudEvent } from '../../notify/cloudevent.js';
import type { WebhookTarget } from '../../notify/notifier.js';

/** What the reconciler needs from the notifier. */
export interface RevocationNotifier {
  configure(directoryKey: string, targets: WebhookTarget[]): void;
  publish(directoryKey: string, events: CloudEvent[]): void;
  forget(directoryKey: string): void;
}

export interface UserRevocationData {
  namespace: string;
  directory: string;
  user: { name: string; login: string };
  reason: Revocation['reason'];
  /** Group objects the user is no longer in. */
  groups: string[];
}

export interface PolicyRemovalData {
  namespace: string;
  directory: string;
  policy: string;
  group?: string;
  groupDisplayName?: string;
  reason: 'GroupDeleted' | 'PolicyDeleted';
  resources: unknown[];
}

const TYPE_OF_REASON: Record<Revocation['reason'], NotificationType> = {
  Suspended: 'io.idpsync.user.suspended',
  Deleted: 'io.idpsync.user.deleted',
  RemovedFromGroups: 'io.idpsync.membership.removed',
};

export async function webhookTargets(
  ds: DirectorySync,
  kube: KubeClient,
  registerSecret: (value: string) => void,
): Promise<{ targets: WebhookTarget[]; problems: string[] }> {
  const namespace = ds.metadata.namespace!;
  const targets: WebhookTarget[] = [];
  const problems: string[] = [];
  for (const hook of ds.spec.notifications?.webhooks ?? []) {
    const { value, problem } = await signingSecret(kube, namespace, hook.name, hook.secretRef);
    if (problem) problems.push(problem);
    else registerSecret(value);
    // A webhook without a usable secret stays configured with an empty one: the notifier then keeps its
    // events waiting (and says why in status) instead of discarding them.
    targets.push({
      name: hook.name,
      url: hook.url,
      secret: value,
      ...(hook.types?.length ? { types: hook.types } : {}),
      ...(hook.caBundle ? { caBundle: hook.caBundle } : {}),
      allowInsecureLoopback: hook.allowInsecureLoopback ?? false,
    });
  }
  return { targets, problems };
}

async function signingSecret(
  kube: KubeClient,
  namespace: string,
  webhook: string,
  ref: { name: string; key?: string },
): Promise<{ value: string; problem?: string }> {
  const key = ref.key ?? 'signingSecret';
  // A Secret that cannot be read is reported, never a reason to stop syncing (and revoking).
  const secret = await kube.getSecret(namespace, ref.name).catch((err: unknown) => err as Error);
  if (secret instanceof Error) return { value: '', problem: `webhook ${webhook}: cannot read Secret ${ref.name}: ${describeError(secret)}` };
  const value = secret ? secretData(secret)[key] : undefined;
  if (value) return { value };
  const why = !secret ? 'does not exist' : value === '' ? `has an empty "${key}"` : `has no key "${key}"`;
  return { value: '', problem: `webhook ${webhook}: Secret ${ref.name} ${why}` };
}

export function revocationEvents(namespace: string, directory: string, revocations: readonly Revocation[], now: Date): CloudEvent<UserRevocationData>[] {
  return revocations.map((r) =>
    newCloudEvent({
      source: directorySource(namespace, directory),
      type: TYPE_OF_REASON[r.reason],
      subject: `users/${r.user}`,
      data: { namespace, directory, user: { name: r.user, login: r.login }, reason: r.reason, groups: r.groups },
      now,
    }),
  );
}

export function policyRemovedEvent(data: PolicyRemovalData, now: Date): CloudEvent<PolicyRemovalData> {
  return newCloudEvent({
    source: directorySource(data.namespace, data.directory),
    type: 'io.idpsync.policy.removed',
    subject: `policies/${data.policy}`,
    data,
    now,
  });
}
