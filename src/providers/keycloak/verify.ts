// verify(): a token, then each endpoint the sync reads with one row, naming the realm-management role
// a refusal means.
import type { TokenCache } from '../token.js';
import type { VerifyResult } from '../types.js';
import { runProbes, type Probe } from '../verify.js';
import type { KeycloakApi, RealmManagementRole } from './api.js';
import { parseArray, parseGroup } from './model.js';

export async function verifyKeycloak(api: KeycloakApi, tokens: TokenCache, tokenUrl: string, signal?: AbortSignal): Promise<VerifyResult> {
  const one = (path: string) => api.url(path, { first: 0, max: 1, briefRepresentation: true });
  const read = (name: string, path: () => string, role: RealmManagementRole, onBody?: (body: unknown) => void): Probe => ({
    name,
    permission: `realm-management ${role}`,
    run: async (s) => {
      const res = await api.get(one(path()), role, s);
      onBody?.(res.body);
    },
  });

  let firstGroupId: string | undefined;
  let groupsRead = false;
  const probes: Probe[] = [
    { name: `POST ${tokenUrl}`, required: true, run: async () => void (await tokens.get()) },
    read('GET /users', () => 'users', 'view-users'),
    read('GET /groups', () => 'groups', 'query-groups', (body) => {
      const groups = parseArray(body, 'GET /groups');
      firstGroupId = groups.length > 0 ? parseGroup(groups[0], 'GET /groups').id : undefined;
      groupsRead = true;
    }),
    {
      ...read('GET /groups/{id}/members', () => `groups/${encodeURIComponent(firstGroupId!)}/members`, 'view-users'),
      onlyIf: () => groupsRead,
      run: async (s) => {
        if (!firstGroupId) return { skipped: 'the realm has no group to try it on' };
        await api.get(one(`groups/${encodeURIComponent(firstGroupId)}/members`), 'view-users', s);
      },
    },
  ];
  return runProbes(probes, { signal, credentials: 'a valid clientSecret for the client' });
}
