// Pure resolution of a Policy's group selector against the Groups that could match it: which Group it
// grants access through, the owner references and label that make it go with that Group, and its status.
import type { V1OwnerReference } from '@kubernetes/client-node';
import { LABELS, type Group, type Policy, type PolicySpec } from '../../api/v1alpha1/index.js';
import type { Static } from '@sinclair/typebox';
import type { PolicyStatus as PolicyStatusSchema } from '../../api/v1alpha1/policy.js';
import { getCondition, setCondition } from '../conditions.js';
import { groupOwnerRef, isGroupOwnerRef } from '../owners.js';
import { sameJson } from '../../directory/json.js';

export type PolicyStatus = Static<typeof PolicyStatusSchema>;
type Selector = PolicySpec['group'];

export interface ResolveInput {
  policy: Policy;
  /** Groups found by the selector's name, IdP id or IdP name (not yet filtered by the other fields). */
  candidates: readonly Group[];
  /** Groups named in the Policy's Group owner references that still exist, by uid. */
  liveOwners: ReadonlyMap<string, Group>;
  now: Date;
}

export interface Resolution {
  group?: Group;
  status: PolicyStatus;
  statusChanged: boolean;
  /** A merge patch for metadata, when owner references or the group label must change. */
  metadataPatch?: { metadata: { ownerReferences: V1OwnerReference[] | null; labels: Record<string, string | null>; resourceVersion?: string } };
  /** Set when the Policy just became resolved or inert: an Event worth telling a person about. */
  transition?: { type: 'Normal' | 'Warning'; reason: string; note: string };
}

export function matchesSelector(group: Group, selector: Selector): boolean {
  if (selector.name !== undefined && group.metadata.name !== selector.name) return false;
  if (selector.idpId !== undefined && group.spec.idpId !== selector.idpId) return false;
  if (selector.idpName !== undefined && group.spec.displayName !== selector.idpName) return false;
  if (selector.directory !== undefined && group.spec.directory !== selector.directory) return false;
  return true;
}

export function describeSelector(selector: Selector): string {
  const parts = [];
  if (selector.name !== undefined) parts.push(`name "${selector.name}"`);
  if (selector.idpId !== undefined) parts.push(`IdP id "${selector.idpId}"`);
  if (selector.idpName !== undefined) parts.push(`IdP name "${selector.idpName}"`);
  const where = selector.directory !== undefined ? ` in directory ${selector.directory}` : '';
  return `${parts.join(' and ')}${where}`;
}

/** Policies written from a DirectorySync's spec.policies: the sync owns their metadata. */
export function isDeclared(policy: Policy): boolean {
  return policy.metadata.labels?.[LABELS.policyRule] !== undefined;
}

export function resolvePolicy(input: ResolveInput): Resolution {
  const { policy, now } = input;
  const selector = policy.spec.group;
  const byUid = new Map<string, Group>();
  for (const g of input.candidates) if (matchesSelector(g, selector)) byUid.set(g.metadata.uid!, g);
  const matches = [...byUid.values()].sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
  const group = matches.length === 1 ? matches[0] : undefined;
  const previous = policy.status ?? {};
  const nowIso = now.toISOString();
  const generation = policy.metadata.generation ?? 0;

  const ready = group
    ? {
        type: 'Ready',
        status: 'True' as const,
        reason: 'Resolved',
        message: `Grants the ${group.spec.memberCount} active member(s) of ${group.spec.displayName} (Group ${group.metadata.name}) access to ${policy.spec.resources.length} resource(s)`,
      }
    : matches.length > 1
      ? {
          type: 'Ready',
          status: 'False' as const,
          reason: 'AmbiguousGroup',
          message: `${matches.length} Groups match ${describeSelector(selector)} (${matches.slice(0, 5).map((g) => g.metadata.name).join(', ')}); the Policy grants nothing until spec.group names one (add idpId or directory)`,
        }
      : {
          type: 'Ready',
          status: 'False' as const,
          reason: 'GroupNotFound',
          message: `No Group matches ${describeSelector(selector)}; the Policy is inert and grants nothing. It attaches again when a matching group is synced.`,
        };

  const status: PolicyStatus = {
    observedGeneration: generation,
    conditions: setCondition(previous.conditions ?? [], ready, nowIso, generation),
    memberCount: group?.spec.memberCount ?? 0,
    ...(group ? { resolvedGroup: group.metadata.name, directory: group.spec.directory } : {}),
    ...(group ? { resolvedIdpId: group.spec.idpId } : previous.resolvedIdpId ? { resolvedIdpId: previous.resolvedIdpId } : {}),
  };

  const wasReady = getCondition(previous.conditions, 'Ready');
  const transition =
    wasReady?.status === ready.status && wasReady.reason === ready.reason
      ? undefined
      : { type: group ? ('Normal' as const) : ('Warning' as const), reason: ready.reason, note: ready.message };

  return {
    group,
    status,
    statusChanged: !sameJson(previous, status),
    metadataPatch: isDeclared(policy) ? undefined : ownershipPatch(policy, group, input.liveOwners),
    transition,
  };
}

/**
 * Owner references an authored Policy needs: the resolved Group (so the garbage collector deletes the
 * Policy with it), none to a Group that exists but no longer matches (a rename), and every reference to
 * a Group that is already gone left alone: the garbage collector is deleting the Policy because of it.
 */
function ownershipPatch(policy: Policy, group: Group | undefined, liveOwners: ReadonlyMap<string, Group>): Resolution['metadataPatch'] {
  const current = (policy.metadata.ownerReferences ?? []) as V1OwnerReference[];
  const keep = current.filter((r) => !(isGroupOwnerRef(r) && liveOwners.has(r.uid) && r.uid !== group?.metadata.uid));
  const next = group && !keep.some((r) => r.uid === group.metadata.uid) ? [...keep, groupOwnerRef(group.metadata.name!, group.metadata.uid!, false)] : keep;
  const label = policy.metadata.labels?.[LABELS.group];
  const wantLabel = group?.metadata.name;
  if (sameJson(current, next) && label === wantLabel) return undefined;
  return {
    metadata: {
      ownerReferences: next.length ? next : null,
      labels: { [LABELS.group]: wantLabel ?? null },
      resourceVersion: policy.metadata.resourceVersion,
    },
  };
}
