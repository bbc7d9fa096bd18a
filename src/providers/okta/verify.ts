// verify(): obtains a token, then asks each endpoint the sync uses for one item, and reports
// what is missing in Okta's own terms.
import type { VerifyCheck, VerifyResult } from '../types.js';
import { runProbes, type Probe } from '../verify.js';
import type { OktaApi, OktaScope } from './api.js';
import type { OAuthAuthorizer } from './auth.js';
import { requireGroup } from './model.js';

export async function verifyOkta(
  api: OktaApi,
  auth: OAuthAuthorizer | undefined,
  scopes: OktaScope[],
  appId: string | undefined,
  signal?: AbortSignal,
): Promise<VerifyResult> {
  const probes: Probe[] = [];
  if (auth) {
    probes.push({
      name: `token (${scopes.join(' ')})`,
      required: true,
      run: async () => void (await auth.authorization()),
      // When Okta refuses scopes, the error already names them: one check per scope.
      failed: (err): VerifyCheck[] => {
        if (err.reason !== 'AccessDenied') return [{ name: 'token', ok: false, message: err.message }];
        const refused = err.missingPermission?.split(' ') ?? scopes;
        return scopes.map((scope) => (refused.includes(scope) ? { name: scope, ok: false, missing: scope, message: err.message } : { name: scope, ok: true }));
      },
    });
  }

  const list = (name: string, path: string, scope: OktaScope, onBody?: (body: unknown) => void): Probe => ({
    name,
    permission: scope,
    run: async (signal) => {
      const res = await api.get(api.url(path, { limit: 1 }), scope, { signal });
      onBody?.(res.body);
    },
  });
  if (appId) {
    const app = `/api/v1/apps/${encodeURIComponent(appId)}`;
    probes.push(list(`GET /api/v1/apps/${appId}/users`, `${app}/users`, 'okta.apps.read'), list(`GET /api/v1/apps/${appId}/groups`, `${app}/groups`, 'okta.apps.read'));
  } else {
    probes.push(list('GET /api/v1/users', '/api/v1/users', 'okta.users.read'));
  }

  let firstGroupId: string | undefined;
  probes.push(
    list('GET /api/v1/groups', '/api/v1/groups', 'okta.groups.read', (body) => {
      if (Array.isArray(body) && body.length > 0) firstGroupId = requireGroup(body[0]).id;
    }),
    {
      name: 'GET /api/v1/groups/{id}/users',
      permission: 'okta.groups.read',
      run: async (signal) => {
        if (!firstGroupId) return { skipped: 'the org has no group to try it on' };
        await api.get(api.url(`/api/v1/groups/${encodeURIComponent(firstGroupId)}/users`, { limit: 1 }), 'okta.groups.read', { signal });
      },
    },
  );
  return runProbes(probes, { signal });
}
