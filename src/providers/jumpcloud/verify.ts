// verify(): asks each endpoint the sync uses for one item, and says what is missing in JumpCloud's terms.
import type { VerifyResult } from '../types.js';
import { runProbes, type Probe } from '../verify.js';
import { applicationNotFound, type JumpCloudApi } from './api.js';

export async function verifyJumpCloud(api: JumpCloudApi, applicationId: string | undefined, signal?: AbortSignal): Promise<VerifyResult> {
  const get = async (path: string, signal?: AbortSignal, onNotFound?: () => Error) => {
    const res = await api.get(api.url(path, { limit: 1 }), signal, onNotFound ? [404] : undefined);
    if (res.status === 404 && onNotFound) throw onNotFound();
    return res.body;
  };

  let firstGroupId: string | undefined;
  const probes: Probe[] = [
    { name: 'GET /api/systemusers', permission: 'view access to Users', run: async (s) => void (await get('/api/systemusers', s)) },
    {
      name: 'GET /api/v2/usergroups',
      permission: 'view access to User Groups',
      run: async (s) => {
        const body = await get('/api/v2/usergroups', s);
        const first = Array.isArray(body) ? (body[0] as { id?: unknown } | undefined) : undefined;
        if (typeof first?.id === 'string') firstGroupId = first.id;
      },
    },
    {
      name: 'GET /api/v2/usergroups/{id}/members',
      permission: 'view access to User Groups',
      run: async (s) => {
        if (!firstGroupId) return { skipped: 'the organization has no user group to try it on' };
        await get(`/api/v2/usergroups/${encodeURIComponent(firstGroupId)}/members`, s);
      },
    },
  ];
  if (applicationId) {
    const app = encodeURIComponent(applicationId);
    for (const target of ['users', 'usergroups']) {
      probes.push({
        name: `GET /api/v2/applications/${applicationId}/${target}`,
        permission: 'view access to SSO Applications',
        run: async (s) => void (await get(`/api/v2/applications/${app}/${target}`, s, () => applicationNotFound(applicationId))),
      });
    }
  }
  return runProbes(probes, { signal, credentials: 'a valid API key (and x-org-id for a multi-tenant administrator)' });
}
