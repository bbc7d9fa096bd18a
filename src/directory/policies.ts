// Declared policies: a DirectorySync's spec.policies rules, expanded into one Policy per rule and
// matching Group. Each is owned by its Group, so when the group goes the garbage collector removes the
// Policy; this module only decides what to write and which Policies a changed rule no longer wants.
import type { DirectoryGroup } from './snapshot.js';
import { LABELS, type Policy, type PolicySpec } from '../api/v1alpha1/index.js';
import type { DirectorySyncSpec } from '../api/v1alpha1/index.js';
import { globToRegExp, objectName } from './naming.js';
import { sameJson } from './json.js';

type PolicyRule = NonNullable<DirectorySyncSpec['policies']>[number];

export interface PolicyWrite {
  name: string;
  rule: string;
  /** The Group object that owns the Policy. */
  group: string;
  spec: PolicySpec;
}

export interface PolicyPlan {
  writes: PolicyWrite[];
  /** Declared Policies no rule wants any more (rule removed or changed, group filtered out of a rule). */
  deletions: string[];
  /** How many declared Policies exist once the plan is applied. */
  total: number;
}

export interface DeclaredPolicyInput {
  directory: string;
  rules: readonly PolicyRule[];
  /** Groups that stay (synced now), with their object names. */
  groups: readonly { group: DirectoryGroup; name: string; uid?: string }[];
  /** Group object names being deleted or held back by the guard: their Policies are left to the garbage collector or kept. */
  leavingGroups: ReadonlySet<string>;
  existing: readonly Policy[];
}

export function declaredPolicies(input: DeclaredPolicyInput): PolicyPlan {
  const existingByName = new Map(input.existing.map((p) => [p.metadata.name!, p]));
  const wanted = new Set<string>();
  const writes: PolicyWrite[] = [];
  for (const rule of input.rules) {
    const matches = ruleMatcher(rule);
    for (const { group, name: groupName, uid } of input.groups) {
      if (!matches(group)) continue;
      const name = objectName(input.directory, `${rule.name}-${group.name}`, `${rule.name}\u0000${group.id}`);
      wanted.add(name);
      const spec: PolicySpec = {
        ...(rule.description ? { description: rule.description } : {}),
        group: { name: groupName, idpId: group.id, directory: input.directory },
        resources: rule.resources,
      };
      const existing = existingByName.get(name);
      const ownerChanged = uid !== undefined && !existing?.metadata.ownerReferences?.some((r) => r.uid === uid);
      if (!existing || ownerChanged || !sameJson(existing.spec, spec) || existing.metadata.labels?.[LABELS.group] !== groupName) {
        writes.push({ name, rule: rule.name, group: groupName, spec });
      }
    }
  }
  const deletions = input.existing
    .filter((p) => !wanted.has(p.metadata.name!) && !input.leavingGroups.has(p.spec.group.name ?? ''))
    .map((p) => p.metadata.name!)
    .sort();
  return { writes, deletions, total: wanted.size };
}

function ruleMatcher(rule: PolicyRule): (g: DirectoryGroup) => boolean {
  const names = new Set(rule.groups.names ?? []);
  const ids = new Set(rule.groups.ids ?? []);
  const patterns = (rule.groups.patterns ?? []).map(globToRegExp);
  return (g) => names.has(g.name) || ids.has(g.id) || patterns.some((re) => re.test(g.name));
}
