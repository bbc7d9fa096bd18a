// Applies a plan in an order that is safe to stop at any point: every write that removes access goes
// before any write that grants it. Within a step writes run in parallel. A write refused for now (409
// Conflict, 429 with a short Retry-After) is sent again a few times first (kube/write-retry.ts); once
// one fails for a reason that is not the object's own, no further write or retry starts, the writes
// already started are awaited, and the failure is reported with how far the plan got. An object the
// apiserver refuses for what it is (400/422: a schema or CEL rule) is skipped and named; it never
// holds back the rest of the directory.
import { LABELS, type DirectorySync, type Group, type Policy, type User } from '../../api/v1alpha1/index.js';
import type { GroupWrite, Plan, UserWrite } from '../../directory/decide.js';
import type { PolicyWrite } from '../../directory/policies.js';
import { idHash } from '../../directory/naming.js';
import type { IdpKind, KubeApi } from '../../kube/client.js';
import { apiServerMessage, classifyClusterError, isRefusal } from '../../kube/errors.js';
import { writeRetryPolicy, type WriteRetryOptions } from '../../kube/write-retry.js';
import { drainLimit } from '../../util/concurrency.js';
import { directoryOwnerRef, groupOwnerRef } from '../owners.js';

export interface RejectedObject {
  kind: IdpKind;
  name: string;
  /** The apiserver's own words. */
  message: string;
}

export interface ApplyResult {
  writes: number;
  rejected: RejectedObject[];
  /** Users as stored by this apply, by name. */
  storedUsers: Map<string, User>;
}

/** A write failed for a reason that is not the object's own: the plan stopped part way. */
export class ApplyStopped extends Error {
  constructor(
    readonly failure: Error,
    readonly done: number,
    readonly planned: number,
    /** Users stored before the stop: their revocation records are owed signals all the same. */
    readonly storedUsers: Map<string, User>,
  ) {
    super(`${failure.message} (applied ${done} of ${planned} planned writes; the next sync continues from there)`);
  }
}

/** What a directory has in the cluster: its Users and Groups, and the Policies its spec.policies wrote. */
export interface DirectoryObjects {
  users: User[];
  groups: Group[];
  policies: Policy[];
}

/** Lists a directory's objects, as a sync compares them with the IdP (and `idpsync render --kubeconfig` does too). */
export async function listDirectoryObjects(kube: KubeApi, namespace: string, name: string): Promise<DirectoryObjects> {
  const [users, groups, policies] = await Promise.all([
    kube.listOwned<User>('User', namespace, name),
    kube.listOwned<Group>('Group', namespace, name),
    kube.list<Policy>('Policy', namespace, `${LABELS.directory}=${name},${LABELS.policyRule}`),
  ]);
  return { users, groups, policies };
}

/** The metadata every object a directory writes carries. */
export function directoryObjectMeta(ds: DirectorySync, objectName: string, idpId: string, labels: Record<string, string> = {}) {
  const { namespace, name } = ds.metadata as { namespace: string; name: string };
  return {
    name: objectName,
    namespace,
    labels: { [LABELS.directory]: name, [LABELS.idpId]: idHash(idpId), [LABELS.managedBy]: 'idpsync', ...labels },
    ownerReferences: [directoryOwnerRef(ds)],
  };
}

/** The whole User as the operator applies it: spec and status in one request. */
export function userApplyBody(ds: DirectorySync, write: Pick<UserWrite, 'name' | 'spec' | 'status'>, resourceVersion?: string) {
  const metadata = directoryObjectMeta(ds, write.name, write.spec.idpId);
  return { metadata: resourceVersion ? { ...metadata, resourceVersion } : metadata, spec: write.spec, status: write.status };
}

export function groupApplyBody(ds: DirectorySync, write: GroupWrite) {
  const metadata = directoryObjectMeta(ds, write.name, write.spec.idpId, write.labels);
  return { metadata: write.annotations ? { ...metadata, annotations: write.annotations } : metadata, spec: write.spec };
}

/** A Policy from spec.policies, owned by the Group it grants access through. */
export function policyApplyBody(ds: DirectorySync, write: PolicyWrite, groupUid: string) {
  const metadata = {
    name: write.name,
    namespace: ds.metadata.namespace!,
    labels: { [LABELS.directory]: ds.metadata.name!, [LABELS.policyRule]: write.rule, [LABELS.group]: write.group, [LABELS.managedBy]: 'idpsync' },
    ownerReferences: [groupOwnerRef(write.group, groupUid, true)],
  };
  return { metadata, spec: write.spec };
}

export interface ApplyOptions {
  /** Objects written at once. Default 8. */
  concurrency?: number;
  writeRetry?: WriteRetryOptions;
  /**
   * Take the Users and Groups out of the plan (plan.users and plan.groups are left empty) and let go of
   * each once it is written, so a first sync does not hold every desired object next to the stored ones.
   */
  release?: boolean;
}

export async function applyPlan(kube: KubeApi, ds: DirectorySync, plan: Plan, existingGroups: readonly Group[], options: ApplyOptions = {}): Promise<ApplyResult> {
  const { concurrency = 8, writeRetry = {}, release = false } = options;
  const retrying = writeRetryPolicy(writeRetry);
  const namespace = ds.metadata.namespace!;
  const result: ApplyResult = { writes: 0, rejected: [], storedUsers: new Map() };
  const planned = plan.users.length + plan.groups.length + plan.deletions.length + plan.policies.writes.length + plan.policies.deletions.length;
  const groupUid = new Map(existingGroups.map((g) => [g.metadata.name!, g.metadata.uid!]));
  const rejectedGroups = new Set<string>();

  const step = async <T>(items: T[], kind: (item: T) => IdpKind, nameOf: (item: T) => string, write: (item: T) => Promise<void>) => {
    // Once a write has failed, no retry of another starts: the step stops as it would without retries.
    const stopped = new AbortController();
    try {
      await drainLimit(items, concurrency, async (item) => {
        try {
          await retrying.execute(({ signal }) => {
            signal.throwIfAborted();
            return write(item);
          }, stopped.signal);
          result.writes++;
        } catch (err) {
          if (stopped.signal.aborted) throw err;
          if (!isRefusal(err)) {
            const failure = classifyClusterError(err, `writing ${kind(item)} ${namespace}/${nameOf(item)}`);
            stopped.abort(failure);
            throw failure;
          }
          result.rejected.push({ kind: kind(item), name: nameOf(item), message: apiServerMessage(err) });
          if (kind(item) === 'Group') rejectedGroups.add(nameOf(item));
        }
      });
    } catch (err) {
      throw new ApplyStopped(err as Error, result.writes, planned, result.storedUsers);
    }
  };
  const writeUser = async (u: UserWrite) => {
    result.storedUsers.set(u.name, await kube.apply<User>('User', userApplyBody(ds, u)));
  };

  // Each step empties its own array as it writes (drainLimit); with `release` nothing else holds the writes.
  const [revoking, granting] = partition(release ? take(plan, 'users') : plan.users, (u) => u.revokes);
  const groups = release ? take(plan, 'groups') : [...plan.groups];

  // 1. Access goes first: suspended, deleted and departing people, then Policies no rule wants any more.
  await step(revoking, () => 'User', (u) => u.name, writeUser);
  await step([...plan.policies.deletions], () => 'Policy', (p) => p, (p) => kube.delete('Policy', namespace, p));
  // Background propagation (see docs/policies.md): members have already lost the Group above, and the
  // garbage collector then removes the Policies it owns.
  await step([...plan.deletions], (d) => d.kind, (d) => d.name, (d) => kube.delete(d.kind, namespace, d.name, 'Background'));
  // 2. Then what grants access: Groups before the Users that name them, then the Policies Groups own.
  await step(groups, () => 'Group', (g) => g.name, async (g) => {
    const stored = await kube.apply<Group>('Group', groupApplyBody(ds, g));
    groupUid.set(g.name, stored.metadata.uid!);
  });
  await step(granting, () => 'User', (u) => u.name, writeUser);
  const policies = plan.policies.writes.filter((p) => !rejectedGroups.has(p.group) && groupUid.has(p.group));
  await step(policies, () => 'Policy', (p) => p.name, async (p) => {
    await kube.apply('Policy', policyApplyBody(ds, p, groupUid.get(p.group)!));
  });
  return result;
}

function take<K extends 'users' | 'groups'>(plan: Plan, key: K): Plan[K] {
  const taken = plan[key];
  plan[key] = [];
  return taken;
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}
