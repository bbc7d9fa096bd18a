// Turns a DirectorySync's spec.notifications into webhook targets (reading each signing Secret) and a
// sync's revocations into the CloudEvents those targets receive.
import type { DirectorySync, RevocationRecord } from '../../api/v1alpha1/index.js';
import { REVOCATION_NOTIFICATION_TYPE } from '../../directory/signals.js';
import type { KubeApi } from '../../kube/client.js';
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
  reason: RevocationRecord['reason'];
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

export async function webhookTargets(
  ds: DirectorySync,
  kube: KubeApi,
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
  kube: KubeApi,
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

/**
 * The CloudEvent announcing one revocation record. Its id derives from the record, so the event published
 * again after a restart is the same event: queues skip it, and receivers de-duplicate on webhook-id.
 */
export function revocationEvent(namespace: string, directory: string, user: { name: string; login: string }, record: RevocationRecord): CloudEvent<UserRevocationData> {
  return newCloudEvent({
    source: directorySource(namespace, directory),
    type: REVOCATION_NOTIFICATION_TYPE[record.reason],
    subject: `users/${user.name}`,
    id: revocationEventId(user.name, record.id),
    data: { namespace, directory, user, reason: record.reason, groups: record.groups },
    now: new Date(record.time),
  });
}

export function revocationEventId(user: string, recordId: string): string {
  return `${user}.${recordId}`;
}

/** The User and record a revocation CloudEvent id names; undefined for other events. */
export function parseRevocationEventId(id: string): { user: string; recordId: string } | undefined {
  const dot = id.lastIndexOf('.');
  if (dot <= 0) return undefined;
  return { user: id.slice(0, dot), recordId: id.slice(dot + 1) };
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
