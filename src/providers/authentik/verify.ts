// verify(): the token, then each list the sync reads with one row, naming the authentik permission a
// refusal means.
import { StallError } from '../../errors.js';
import type { VerifyResult } from '../types.js';
import { runProbes, type Probe } from '../verify.js';
import type { AuthentikApi } from './api.js';
import { parseGroup } from './model.js';

export async function verifyAuthentik(api: AuthentikApi, signal?: AbortSignal): Promise<VerifyResult> {
  let firstGroupPk: string | undefined;
  let groupsRead = false;
  const probes: Probe[] = [
    { name: 'GET /api/v3/core/users/me/', required: true, run: (s) => api.me(s) },
    {
      name: 'GET /api/v3/core/users/',
      permission: 'authentik_core.view_user',
      run: async (s) => {
        const page = await api.firstPage('core/users/', {}, 'authentik_core.view_user', s);
        // Without the model permission authentik may filter the list down to what the user holds
        // object permissions on instead of refusing it; the token's own user is always there otherwise.
        if (page.count === 0) {
          throw new StallError('AccessDenied', 'authentik listed no users at all: the token\'s user lacks authentik_core.view_user', {
            missingPermission: 'authentik_core.view_user',
          });
        }
      },
    },
    {
      name: 'GET /api/v3/core/groups/',
      permission: 'authentik_core.view_group',
      run: async (s) => {
        const page = await api.firstPage('core/groups/', { include_users: false }, 'authentik_core.view_group', s);
        firstGroupPk = page.results.length > 0 ? parseGroup(page.results[0], 'GET /api/v3/core/groups/').pk : undefined;
        groupsRead = true;
      },
    },
    {
      name: 'GET /api/v3/core/users/?groups_by_pk={pk}',
      permission: 'authentik_core.view_user',
      onlyIf: () => groupsRead,
      run: async (s) => {
        if (!firstGroupPk) return { skipped: 'there is no group to try it on' };
        await api.firstPage('core/users/', { groups_by_pk: firstGroupPk }, 'authentik_core.view_user', s);
      },
    },
  ];
  return runProbes(probes, { signal, credentials: 'a valid API token' });
}
