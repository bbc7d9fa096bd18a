// verify(): a token (key file form), the token's own user (is it valid for the API at all), then each
// search the sync makes with one row, naming the Zitadel permission a refusal means.
import { StallError } from '../../errors.js';
import type { VerifyResult } from '../types.js';
import { runProbes, type Probe } from '../verify.js';
import type { Search, ZitadelApi } from './api.js';
import type { AccessTokens } from './auth.js';

export async function verifyZitadel(api: ZitadelApi, tokens: AccessTokens, tokenUrl: string, signal?: AbortSignal): Promise<VerifyResult> {
  const one = <T>(search: Search<T>, s?: AbortSignal) => api.page(search, 0, 1, s);
  const probes: Probe[] = [
    ...(tokens.form === 'keyFile' ? [{ name: `POST ${tokenUrl}`, required: true, run: async () => void (await tokens.get()) }] : []),
    { name: 'GET /auth/v1/users/me', required: true, run: (s) => api.me(s) },
    {
      name: api.userSearch.name,
      permission: api.userSearch.permission,
      run: async (s) => {
        // Depending on the version, Zitadel may narrow the list to the users a caller may read instead
        // of refusing it; an organisation with no person at all is not worth syncing either.
        if ((await one(api.userSearch, s)).totalResult === 0) {
          throw new StallError('AccessDenied', 'Zitadel listed no human user at all: the service user lacks user.read on the organization, or it has no users', {
            missingPermission: 'user.read',
          });
        }
      },
    },
    {
      name: api.roleSearch.name,
      permission: api.roleSearch.permission,
      run: async (s) => {
        if ((await one(api.roleSearch, s)).totalResult === 0) {
          throw new StallError(
            'InvalidConfiguration',
            `Zitadel project ${api.projectId} has no roles (or is not a project of the organization): no Group would be synced; check spec.provider.zitadel.projectId`,
          );
        }
      },
    },
    { name: api.grantSearch.name, permission: api.grantSearch.permission, run: async (s) => void (await one(api.grantSearch, s)) },
  ];
  return runProbes(probes, {
    signal,
    credentials: tokens.form === 'keyFile' ? 'a current key of an active service user (keyFile)' : 'a valid personal access token (token)',
  });
}
