// `idpsync render`: reads a DirectorySync and its Secret from YAML, talks to the IdP and prints the
// Users and Groups the operator would write — no cluster needed. For GitOps previews and debugging.
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { API_VERSION, LABELS, type DirectorySync } from '../api/v1alpha1/index.js';
import { decide, type Plan } from '../directory/decide.js';
import { idHash } from '../directory/naming.js';
import { DRIVERS } from '../providers/registry.js';
import { StallError } from '../errors.js';
import { credentialKeyIn, credentialLeakError } from '../providers/credential-errors.js';
import type { VerifyResult } from '../providers/types.js';

export interface RenderInput {
  directorySync: DirectorySync;
  secretData: Record<string, string>;
}

export function readRenderInput(files: string[]): RenderInput {
  const docs = files.flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as Record<string, any>)).filter(Boolean);
  const ds = docs.find((d) => d.kind === 'DirectorySync') as DirectorySync | undefined;
  if (!ds) throw new Error('no DirectorySync found in the given files');
  const secret = docs.find((d) => d.kind === 'Secret' && d.metadata?.name === ds.spec?.credentialsRef?.name);
  if (!secret) throw new Error(`no Secret named ${ds.spec?.credentialsRef?.name} found in the given files`);
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries<string>(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
  Object.assign(data, secret.stringData ?? {});
  ds.metadata.namespace ??= secret.metadata?.namespace ?? 'default';
  return { directorySync: ds, secretData: data };
}

export async function render(input: RenderInput, options: { verify?: boolean } = {}): Promise<{ plan: Plan; apiCalls: number; verify?: VerifyResult }> {
  const ds = input.directorySync;
  const provider = ds.spec.provider;
  const factory = DRIVERS[provider.type];
  if (!factory) throw new StallError('UnsupportedProvider', `provider.type ${provider.type} is not supported`);
  const driver = factory({
    settings: (provider as Record<string, unknown>)[provider.type] ?? {},
    credentials: input.secretData,
    caBundle: provider.caBundle,
    allowInsecureLoopback: provider.allowInsecureLoopback,
  });
  const secretName = ds.spec.credentialsRef?.name ?? '(unnamed)';
  const guarded = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw credentialLeakError(err, input.secretData, secretName) ?? err;
    }
  };
  const verify = options.verify ? redactVerify(await guarded(() => driver.verify()), input.secretData, secretName) : undefined;
  const snapshot = await guarded(() => driver.fetch({ syncOrgUnits: ds.spec.syncOrgUnits ?? false }));
  const plan = decide({
    directory: { name: ds.metadata.name!, namespace: ds.metadata.namespace!, annotations: ds.metadata.annotations ?? {}, spec: ds.spec },
    snapshot,
    existingUsers: [],
    existingGroups: [],
    now: new Date(),
  });
  return { plan, apiCalls: snapshot.apiCalls, verify };
}

/** A failed check's message can quote what the IdP or HTTP client said about a credential: never print that. */
function redactVerify(result: VerifyResult, credentials: Record<string, string>, secretName: string): VerifyResult {
  return {
    ...result,
    checks: result.checks.map((c) => (c.message && credentialKeyIn(c.message, credentials) !== undefined ? { ...c, message: credentialLeakError(c.message, credentials, secretName)!.message } : c)),
  };
}

export function planToYaml(ds: DirectorySync, plan: Plan): string {
  const meta = (name: string, idpId: string) => ({
    name,
    namespace: ds.metadata.namespace,
    labels: { [LABELS.directory]: ds.metadata.name!, [LABELS.idpId]: idHash(idpId), [LABELS.managedBy]: 'idpsync' },
  });
  const objects = [
    ...plan.groups.map((g) => ({ apiVersion: API_VERSION, kind: 'Group', metadata: meta(g.name, g.spec.idpId), spec: g.spec })),
    ...plan.users.map((u) => ({ apiVersion: API_VERSION, kind: 'User', metadata: meta(u.name, u.spec.idpId), spec: u.spec, status: u.status })),
  ];
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

export function planToTable(plan: Plan): string {
  const rows: string[][] = [['KIND', 'NAME', 'DISPLAY NAME', 'STATE/MEMBERS', 'GROUPS/ROLE']];
  for (const g of plan.groups) rows.push(['Group', g.name, g.spec.displayName, String(g.spec.memberCount), g.spec.kind]);
  for (const u of plan.users) rows.push(['User', u.name, u.spec.login, u.spec.state, `${u.spec.groups.length} group(s), ${u.status.role}`]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const c = plan.counts;
  const lines = rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
  lines.push('', `${c.users} users (${c.activeUsers} active, ${c.suspendedUsers} suspended), ${c.groups} groups, ${c.memberships} memberships`);
  return lines.join('\n');
}
