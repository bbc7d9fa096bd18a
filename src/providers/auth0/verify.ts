// verify(): a token, then each list the sync reads with one row, naming the Management API scope a
// refusal means.
import type { TokenCache } from '../token.js';
import type { VerifyResult } from '../types.js';
import { runProbes, type Probe } from '../verify.js';
import type { Auth0Api, Auth0Scope } from './api.js';
import type { GroupSource } from './directory.js';
import { parseCheckpointPage, parseOrganization, parseRole, parseTotalsPage } from './model.js';

export async function verifyAuth0(api: Auth0Api, tokens: TokenCache, tokenUrl: string, groupsFrom: readonly GroupSource[], signal?: AbortSignal): Promise<VerifyResult> {
  const read = (name: string, path: string, query: Record<string, string | number | boolean>, scope: Auth0Scope, onBody?: (body: unknown) => void): Probe => ({
    name,
    permission: scope,
    run: async (s) => {
      const res = await api.get(api.url(path, query), scope, s);
      onBody?.(res.body);
    },
  });
  /** A probe of the members of the first role or organization, when the list before it could be read. */
  const membersOf = (name: string, pathOf: (id: string) => string, scope: Auth0Scope, first: () => string | undefined, listRead: () => boolean, kind: string): Probe => ({
    name,
    permission: scope,
    onlyIf: listRead,
    run: async (s) => {
      const id = first();
      if (!id) return { skipped: `the tenant has no ${kind} to try it on` };
      await api.get(api.url(pathOf(id), { take: 1 }), scope, s);
    },
  });

  let firstRole: string | undefined;
  let rolesRead = false;
  let firstOrg: string | undefined;
  let orgsRead = false;
  const probes: Probe[] = [
    { name: `POST ${tokenUrl}`, required: true, run: async () => void (await tokens.get()) },
    read('GET /api/v2/users', 'users', { page: 0, per_page: 1, include_totals: true }, 'read:users'),
  ];
  if (groupsFrom.includes('roles')) {
    probes.push(
      read('GET /api/v2/roles', 'roles', { page: 0, per_page: 1, include_totals: true }, 'read:roles', (body) => {
        const roles = parseTotalsPage(body, 'roles', 'GET /api/v2/roles').items;
        firstRole = roles.length > 0 ? parseRole(roles[0], 'GET /api/v2/roles').id : undefined;
        rolesRead = true;
      }),
      membersOf('GET /api/v2/roles/{id}/users', (id) => `roles/${encodeURIComponent(id)}/users`, 'read:users', () => firstRole, () => rolesRead, 'role'),
    );
  }
  if (groupsFrom.includes('organizations')) {
    probes.push(
      read('GET /api/v2/organizations', 'organizations', { take: 1 }, 'read:organizations', (body) => {
        const orgs = parseCheckpointPage(body, 'organizations', 'GET /api/v2/organizations').items;
        firstOrg = orgs.length > 0 ? parseOrganization(orgs[0], 'GET /api/v2/organizations').id : undefined;
        orgsRead = true;
      }),
      membersOf(
        'GET /api/v2/organizations/{id}/members',
        (id) => `organizations/${encodeURIComponent(id)}/members`,
        'read:organization_members',
        () => firstOrg,
        () => orgsRead,
        'organization',
      ),
    );
  }
  return runProbes(probes, { signal, credentials: 'a valid clientSecret for the application' });
}
