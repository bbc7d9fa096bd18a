// `idpsync render`: reads a DirectorySync and its Secret from YAML, talks to the IdP and prints the
// Users, Groups and Policies the operator would write. Without a cluster it shows everything; given
// one, it shows what a sync would change there. It builds the driver, decides and shapes the objects
// through the same functions the operator uses.
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import type { V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { API_VERSION, type DirectorySync, type User } from '../api/v1alpha1/index.js';
import { decide, type Plan } from '../directory/decide.js';
import { secretData, type KubeApi } from '../kube/client.js';
import { DRIVERS } from '../providers/registry.js';
import { createDriver } from '../providers/context.js';
import { groupApplyBody, listDirectoryObjects, policyApplyBody, userApplyBody, type DirectoryObjects } from '../controllers/directorysync/apply.js';
import { credentialKeyIn, credentialLeakError } from '../providers/credential-errors.js';
import type { VerifyResult } from '../providers/types.js';

export interface RenderInput {
  directorySync: DirectorySync;
  secretData: Record<string, string>;
}

export type ExistingObjects = DirectoryObjects;

export interface RenderResult {
  plan: Plan;
  apiCalls: number;
  verify?: VerifyResult;
  /** What the cluster held, when one was given: the plan is then the difference from it. */
  existing?: ExistingObjects;
}

export function readRenderInput(files: string[]): RenderInput {
  const docs = files.flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as Record<string, any>)).filter(Boolean);
  const ds = docs.find((d) => d.kind === 'DirectorySync') as DirectorySync | undefined;
  if (!ds) throw new Error('no DirectorySync found in the given files');
  const secret = docs.find((d) => d.kind === 'Secret' && d.metadata?.name === ds.spec?.credentialsRef?.name) as V1Secret | undefined;
  if (!secret) throw new Error(`no Secret named ${ds.spec?.credentialsRef?.name} found in the given files`);
  ds.metadata.namespace ??= secret.metadata?.namespace ?? 'default';
  return { directorySync: ds, secretData: secretData(secret) };
}

export interface RenderOptions {
  verify?: boolean;
  /** Gets the permission checks as soon as they are done, so they are shown even when the read then fails. */
  onVerify?: (result: VerifyResult) => void;
  cluster?: KubeApi;
}

export async function render(input: RenderInput, options: RenderOptions = {}): Promise<RenderResult> {
  const ds = input.directorySync;
  const driver = createDriver(DRIVERS, ds, input.secretData);
  const secretName = ds.spec.credentialsRef?.name ?? '(unnamed)';
  const guarded = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw credentialLeakError(err, input.secretData, secretName) ?? err;
    }
  };
  try {
    const verify = options.verify ? redactVerify(await guarded(() => driver.verify({ syncOrgUnits: ds.spec.syncOrgUnits ?? false })), input.secretData, secretName) : undefined;
    if (verify) options.onVerify?.(verify);
    const existing = options.cluster ? await listDirectoryObjects(options.cluster, ds.metadata.namespace!, ds.metadata.name!) : undefined;
    const snapshot = await guarded(() => driver.fetch({ syncOrgUnits: ds.spec.syncOrgUnits ?? false }));
    const plan = decide({
      directory: { name: ds.metadata.name!, namespace: ds.metadata.namespace!, annotations: ds.metadata.annotations ?? {}, spec: ds.spec },
      snapshot,
      existingUsers: existing?.users ?? [],
      existingGroups: existing?.groups ?? [],
      existingPolicies: existing?.policies ?? [],
      now: new Date(),
    });
    return { plan, apiCalls: snapshot.apiCalls, verify, existing };
  } finally {
    await driver.close?.();
  }
}

/** A failed check's message can quote what the IdP or HTTP client said about a credential: never print that. */
function redactVerify(result: VerifyResult, credentials: Record<string, string>, secretName: string): VerifyResult {
  return {
    ...result,
    checks: result.checks.map((c) => (c.message && credentialKeyIn(c.message, credentials) !== undefined ? { ...c, message: credentialLeakError(c.message, credentials, secretName)!.message } : c)),
  };
}

/** The objects a sync would write, as it would write them. Owner references whose uid is not known yet are left out. */
export function plannedObjects(ds: DirectorySync, plan: Plan, existing?: ExistingObjects): Record<string, unknown>[] {
  const groupUid = new Map((existing?.groups ?? []).map((g) => [g.metadata.name!, g.metadata.uid ?? '']));
  const typed = (kind: string, body: { metadata: { ownerReferences?: V1OwnerReference[] } & Record<string, unknown> }, extra: Record<string, unknown> = {}) => {
    const owners = body.metadata.ownerReferences?.filter((r) => r.uid);
    const metadata = { ...body.metadata, ownerReferences: owners?.length ? owners : undefined };
    return { apiVersion: API_VERSION, kind, ...body, metadata, ...extra };
  };
  return [
    ...plan.groups.map((g) => typed('Group', groupApplyBody(ds, g))),
    ...plan.users.map((u) => typed('User', userApplyBody(ds, u))),
    ...plan.policies.writes.map((p) => typed('Policy', policyApplyBody(ds, p, groupUid.get(p.group) ?? ''))),
  ];
}

export function planToYaml(ds: DirectorySync, plan: Plan, existing?: ExistingObjects): string {
  return plannedObjects(ds, plan, existing)
    .map((o) => stringify(o, { lineWidth: 0 }))
    .join('---\n');
}

export function planToJson(ds: DirectorySync, plan: Plan, existing?: ExistingObjects): string {
  const deletions = existing ? [...plan.deletions.map((d) => ({ kind: d.kind, name: d.name, reason: d.reason })), ...plan.policies.deletions.map((name) => ({ kind: 'Policy', name, reason: 'NoRuleWantsIt' }))] : undefined;
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: plannedObjects(ds, plan, existing), ...(deletions ? { deletions } : {}) }, null, 2);
}

export function planToTable(plan: Plan, existing?: ExistingObjects): string {
  return existing ? changesTable(plan, existing) : objectsTable(plan);
}

function objectsTable(plan: Plan): string {
  const rows: string[][] = [['KIND', 'NAME', 'DISPLAY NAME', 'STATE/MEMBERS', 'GROUPS/ROLE']];
  for (const g of plan.groups) rows.push(['Group', g.name, g.spec.displayName, String(g.spec.memberCount), g.spec.kind]);
  for (const u of plan.users) rows.push(['User', u.name, u.spec.login, u.spec.state, `${u.spec.groups.length} group(s), ${u.status.role}`]);
  for (const p of plan.policies.writes) rows.push(['Policy', p.name, p.rule, `group ${p.group}`, '']);
  return [...columns(rows), '', countsLine(plan)].join('\n');
}

/** One line per object a sync would create, change or delete in the cluster. */
function changesTable(plan: Plan, existing: ExistingObjects): string {
  const users = new Map(existing.users.map((u) => [u.metadata.name!, u]));
  const groups = new Map(existing.groups.map((g) => [g.metadata.name!, g]));
  const policies = new Set(existing.policies.map((p) => p.metadata.name!));
  const rows: string[][] = [['ACTION', 'KIND', 'NAME', 'CHANGE']];
  for (const g of plan.groups) {
    const before = groups.get(g.name);
    rows.push([before ? 'update' : 'create', 'Group', g.name, before ? changedFields(before.spec, g.spec) : `${g.spec.displayName}, ${g.spec.memberCount} member(s)`]);
  }
  for (const u of plan.users) {
    const before = users.get(u.name);
    rows.push([before ? 'update' : 'create', 'User', u.name, before ? userChange(before, u.spec) : `${u.spec.login}, ${u.spec.state}, ${u.spec.groups.length} group(s)`]);
  }
  for (const p of plan.policies.writes) rows.push([policies.has(p.name) ? 'update' : 'create', 'Policy', p.name, `rule ${p.rule}, group ${p.group}`]);
  for (const d of plan.deletions) rows.push(['delete', d.kind, d.name, d.reason]);
  for (const name of plan.policies.deletions) rows.push(['delete', 'Policy', name, 'no rule wants it']);
  const held = plan.held ? [`${plan.held.users} user and ${plan.held.groups} group deletion(s) held by the mass-deletion guard`] : [];
  const summary = rows.length === 1 ? ['The cluster already matches the IdP: a sync would write nothing.'] : columns(rows);
  return [...summary, ...held, '', countsLine(plan)].join('\n');
}

function userChange(before: User, after: Plan['users'][number]['spec']): string {
  const parts: string[] = [];
  if (before.spec.state !== after.state) parts.push(`state ${before.spec.state} → ${after.state}`);
  const had = new Set(before.spec.groups ?? []);
  const has = new Set(after.groups);
  const added = after.groups.filter((g) => !had.has(g));
  const removed = [...had].filter((g) => !has.has(g));
  if (added.length) parts.push(`+groups ${added.join(',')}`);
  if (removed.length) parts.push(`-groups ${removed.join(',')}`);
  const rest = changedFields({ ...before.spec, state: undefined, groups: undefined }, { ...after, state: undefined, groups: undefined });
  if (rest !== 'no spec change') parts.push(rest);
  return parts.join('; ') || 'no spec change';
}

function changedFields(before: object, after: object): string {
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]));
  return keys.length ? `changed ${keys.sort().join(', ')}` : 'no spec change';
}

function columns(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
}

function countsLine(plan: Plan): string {
  const c = plan.counts;
  return `${c.users} users (${c.activeUsers} active, ${c.suspendedUsers} suspended), ${c.groups} groups, ${c.memberships} memberships, ${plan.policies.total} policies`;
}
