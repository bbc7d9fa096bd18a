// verify(): obtains a token, then asks each endpoint the sync uses for one item, and reports
// what is missing in Okta's own terms.
import { StallError } from '../../errors.js';
import type { VerifyCheck, VerifyResult } from '../types.js';
import type { OktaApi, OktaScope } from './api.js';
import { OAuthAuthorizer } from './auth.js';
import { requireGroup } from './model.js';

interface Probe {
  name: string;
  scope: OktaScope;
  url: () => Promise<URL | undefined>;
}

export async function verifyOkta(
  api: OktaApi,
  auth: OAuthAuthorizer | undefined,
  scopes: OktaScope[],
  appId: string | undefined,
  signal?: AbortSignal,
): Promise<VerifyResult> {
  if (auth) {
    const tokenChecks = await checkToken(auth, scopes);
    if (tokenChecks.some((c) => !c.ok)) return { ok: false, checks: tokenChecks };
  }

  let firstGroupId: string | undefined;
  const list = (path: string) => async () => api.url(path, { limit: 1 });
  const probes: Probe[] = appId
    ? [
        { name: `GET /api/v1/apps/${appId}/users`, scope: 'okta.apps.read', url: list(`/api/v1/apps/${encodeURIComponent(appId)}/users`) },
        { name: `GET /api/v1/apps/${appId}/groups`, scope: 'okta.apps.read', url: list(`/api/v1/apps/${encodeURIComponent(appId)}/groups`) },
      ]
    : [{ name: 'GET /api/v1/users', scope: 'okta.users.read', url: list('/api/v1/users') }];
  probes.push(
    { name: 'GET /api/v1/groups', scope: 'okta.groups.read', url: list('/api/v1/groups') },
    {
      name: 'GET /api/v1/groups/{id}/users',
      scope: 'okta.groups.read',
      url: async () => (firstGroupId ? api.url(`/api/v1/groups/${encodeURIComponent(firstGroupId)}/users`, { limit: 1 }) : undefined),
    },
  );

  const checks: VerifyCheck[] = [];
  for (const probe of probes) {
    const url = await probe.url();
    if (!url) {
      checks.push({ name: probe.name, ok: true, message: 'skipped: the org has no group to try it on' });
      continue;
    }
    try {
      const res = await api.get(url, probe.scope, { signal });
      if (probe.name === 'GET /api/v1/groups' && Array.isArray(res.body) && res.body.length > 0) {
        firstGroupId = requireGroup(res.body[0]).id;
      }
      checks.push({ name: probe.name, ok: true });
    } catch (err) {
      if (!(err instanceof StallError)) throw err;
      checks.push({ name: probe.name, ok: false, missing: err.missingPermission, message: err.message });
    }
  }
  return { ok: checks.every((c) => c.ok), checks };
}

/** A token with every scope; when Okta refuses, the error already names the refused scopes. */
async function checkToken(auth: OAuthAuthorizer, scopes: OktaScope[]): Promise<VerifyCheck[]> {
  const all = await tryToken(() => auth.authorization());
  if (!all) return [{ name: `token (${scopes.join(' ')})`, ok: true }];
  if (all.reason !== 'AccessDenied') return [{ name: 'token', ok: false, message: all.message }];
  const refused = all.missingPermission?.split(' ') ?? scopes;
  return scopes.map((scope) =>
    refused.includes(scope)
      ? { name: scope, ok: false, missing: scope, message: all.message }
      : { name: scope, ok: true },
  );
}

async function tryToken(request: () => Promise<unknown>): Promise<StallError | undefined> {
  try {
    await request();
    return undefined;
  } catch (err) {
    if (err instanceof StallError) return err;
    throw err;
  }
}
