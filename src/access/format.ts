// Plain-text answers for `idpsync access`: a sentence that answers the question, then a table.
import { addressKind } from './address.js';
import type { Grant, GrantedResource, InertPolicy, Reach, ReachQuery, UserAccess } from './resolve.js';

export interface FormatOptions {
  /** Name the user's directory in the header, for when one key matched Users of several directories. */
  showDirectory?: boolean;
}

export function formatUserAccess(access: UserAccess, options: FormatOptions = {}): string {
  const { user, grants } = access;
  const who = `${user.login} (${user.state}${options.showDirectory ? `, directory ${user.directory}` : ''})`;
  const lines: string[] = [];
  if (user.state !== 'Active') {
    const revoked = user.revokedAt ? ` Access was revoked at ${user.revokedAt}.` : '';
    lines.push(`${who} has no access: the user is ${user.state.toLowerCase()} in the IdP, and Policies grant access to Active users only.${revoked}`);
  } else if (grants.length === 0) {
    lines.push(`${who} has no access: ${user.groups.length === 0 ? 'the user is in no group.' : `no Ready Policy grants access through any of their ${user.groups.length} group(s).`}`);
  } else {
    const policies = new Set(grants.map((g) => g.policy)).size;
    lines.push(`${who} can reach ${grants.length} resource(s) through ${policies} policy(ies):`);
    lines.push(...table(['POLICY', 'GROUP', 'ADDRESS', 'PORTS', 'PROTOCOLS'], grants.map(grantCells)));
  }
  if (access.inertPolicies.length > 0) {
    lines.push('', 'Policies naming their groups that grant nothing:');
    lines.push(...access.inertPolicies.map((p) => `  ${p.policy} (group ${p.group}): ${inertWhy(p)}`));
  }
  return lines.join('\n');
}

export function formatReach(query: ReachQuery, reach: readonly Reach[]): string {
  const what = describeQuery(query);
  if (reach.length === 0) {
    const kind = addressKind(query.address);
    const hint = kind === 'ip' || kind === 'cidr' ? ' (resources named by DNS are matched by name, not resolved)' : '';
    return `Nobody can reach ${what}: no Ready Policy covers it${hint}.`;
  }
  const users = new Set(reach.flatMap((r) => r.users)).size;
  const policies = new Set(reach.map((r) => r.policy)).size;
  const header = `${users} user(s) can reach ${what} through ${policies} policy(ies):`;
  const rows = reach.map((r) => [...grantCells(r), r.users.length ? r.users.join(',') : '(no active members)']);
  return [header, ...table(['POLICY', 'GROUP', 'ADDRESS', 'PORTS', 'PROTOCOLS', 'USERS'], rows)].join('\n');
}

export function describeQuery(query: ReachQuery): string {
  const port = query.port !== undefined ? ` port ${query.port}` : '';
  const protocol = query.protocol ? ` over ${query.protocol.toUpperCase()}` : '';
  return `${query.address}${port}${protocol}`;
}

function grantCells(grant: Grant): string[] {
  return [grant.policy, grant.groupDisplayName, grant.resource.address, ...resourceCells(grant.resource)];
}

function resourceCells(resource: GrantedResource): [string, string] {
  return [resource.ports.length ? resource.ports.join(',') : 'all', resource.protocols.length ? resource.protocols.join(',') : 'all'];
}

function inertWhy(policy: InertPolicy): string {
  switch (policy.reason) {
    case 'PolicyNotReady':
      return policy.ready
        ? `not Ready (${policy.ready.status}, ${policy.ready.reason}${policy.ready.message ? `: ${policy.ready.message}` : ''})`
        : 'not Ready (no Ready condition yet)';
    case 'NoResolvedGroup':
      return 'no resolved group';
    case 'GroupNotFound':
      return 'its group does not exist';
  }
}

function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
}
