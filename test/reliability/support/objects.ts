// What a directory wrote, in a form two runs can be compared by, and the checks every run must pass:
// no duplicates, no orphans, every revocation's signals delivered.
import { EventsV1Api } from '@kubernetes/client-node';
import type { DirectorySync, Group, Policy, User } from '../../../src/api/v1alpha1/index.js';
import { adminKubeConfig } from '../../e2e/harness/index.js';
import { admin } from '../../e2e/support/operator.js';

export interface Written {
  users: User[];
  groups: Group[];
  policies: Policy[];
}

export async function written(namespace: string, directory = 'corp'): Promise<Written> {
  const mine = <T extends { metadata: { labels?: Record<string, string> }; spec?: { directory?: string } }>(items: T[]) =>
    items.filter((o) => o.spec?.directory === directory || o.metadata.labels?.['idpsync.io/directory'] === directory);
  return {
    users: mine(await admin().list<User>('User', namespace)),
    groups: mine(await admin().list<Group>('Group', namespace)),
    policies: await admin().list<Policy>('Policy', namespace),
  };
}

/** name → spec of every object, for comparing two runs of the same directory. */
export function specsByName(w: Written): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [kind, items] of [['User', w.users], ['Group', w.groups], ['Policy', w.policies]] as const) {
    for (const o of items as { metadata: { name?: string }; spec?: unknown }[]) out[`${kind}/${o.metadata.name}`] = o.spec;
  }
  return out;
}

/** Problems with what was written: duplicate ids, objects without their owner, dangling references. */
export function integrityProblems(w: Written, ds: DirectorySync): string[] {
  const problems: string[] = [];
  const dupes = (label: string, keys: string[]) => {
    const seen = new Set<string>();
    for (const k of keys) {
      if (seen.has(k)) problems.push(`duplicate ${label} ${k}`);
      seen.add(k);
    }
  };
  dupes('User idpId', w.users.map((u) => u.spec.idpId));
  dupes('User login', w.users.map((u) => u.spec.login.toLowerCase()));
  dupes('Group idpId', w.groups.map((g) => g.spec.idpId));
  const activeLogins = new Set(w.users.filter((u) => u.spec.state === 'Active').map((u) => u.spec.login));
  const groupNames = new Set(w.groups.map((g) => g.metadata.name!));
  for (const o of [...w.users, ...w.groups]) {
    if (!(o.metadata.ownerReferences ?? []).some((r) => r.uid === ds.metadata.uid)) problems.push(`${o.kind ?? 'object'} ${o.metadata.name} is not owned by the DirectorySync`);
  }
  for (const u of w.users) for (const g of u.spec.groups) if (!groupNames.has(g)) problems.push(`User ${u.metadata.name} lists missing Group ${g}`);
  for (const g of w.groups) for (const m of g.spec.members) if (!activeLogins.has(m)) problems.push(`Group ${g.metadata.name} lists ${m}, who has no active User`);
  for (const p of w.policies) {
    const owners = (p.metadata.ownerReferences ?? []).filter((r) => r.kind === 'Group');
    if (owners.length > 0 && !owners.some((r) => groupNames.has(r.name))) problems.push(`Policy ${p.metadata.name} is owned by a missing Group`);
  }
  return problems;
}

/** Revocation Events (action Revoke) per regarded object name. */
export async function revocationEvents(namespace: string): Promise<Map<string, number>> {
  const list = await adminKubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
  const counts = new Map<string, number>();
  for (const e of list.items) {
    if (e.action !== 'Revoke') continue;
    const name = e.regarding?.name ?? '';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}
