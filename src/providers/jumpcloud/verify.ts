// verify(): asks each endpoint the sync uses for one item, and says what is missing in JumpCloud's terms.
import { IdpSyncError, StallError } from '../../errors.js';
import type { VerifyCheck, VerifyResult } from '../types.js';
import { applicationNotFound, type JumpCloudApi } from './api.js';

interface Probe {
  name: string;
  /** What the key's administrator needs for this call, in JumpCloud's admin-role terms. */
  permission: string;
  path: () => string | undefined;
  /** Read what later probes need from the answer. */
  onBody?: (body: unknown) => void;
  notFound?: () => StallError;
}

export async function verifyJumpCloud(api: JumpCloudApi, applicationId: string | undefined, signal?: AbortSignal): Promise<VerifyResult> {
  let firstGroupId: string | undefined;
  const probes: Probe[] = [
    { name: 'GET /api/systemusers', permission: 'view access to Users', path: () => '/api/systemusers' },
    {
      name: 'GET /api/v2/usergroups',
      permission: 'view access to User Groups',
      path: () => '/api/v2/usergroups',
      onBody: (body) => {
        const first = Array.isArray(body) ? (body[0] as { id?: unknown } | undefined) : undefined;
        if (typeof first?.id === 'string') firstGroupId = first.id;
      },
    },
    {
      name: 'GET /api/v2/usergroups/{id}/members',
      permission: 'view access to User Groups',
      path: () => (firstGroupId ? `/api/v2/usergroups/${encodeURIComponent(firstGroupId)}/members` : undefined),
    },
  ];
  if (applicationId) {
    const app = encodeURIComponent(applicationId);
    for (const target of ['users', 'usergroups']) {
      probes.push({
        name: `GET /api/v2/applications/${applicationId}/${target}`,
        permission: 'view access to SSO Applications',
        path: () => `/api/v2/applications/${app}/${target}`,
        notFound: () => applicationNotFound(applicationId),
      });
    }
  }

  const checks: VerifyCheck[] = [];
  for (const probe of probes) {
    const path = probe.path();
    if (!path) {
      checks.push({ name: probe.name, ok: true, message: 'skipped: the organization has no user group to try it on' });
      continue;
    }
    try {
      const res = await api.get(api.url(path, { limit: 1 }), signal, probe.notFound ? [404] : undefined);
      if (res.status === 404 && probe.notFound) throw probe.notFound();
      probe.onBody?.(res.body);
      checks.push({ name: probe.name, ok: true });
    } catch (err) {
      if (!(err instanceof IdpSyncError)) throw err;
      checks.push({ name: probe.name, ok: false, missing: missingFor(err, probe), message: err.message });
    }
  }
  return { ok: checks.every((c) => c.ok), checks };
}

function missingFor(err: IdpSyncError, probe: Probe): string | undefined {
  if (!(err instanceof StallError)) return undefined;
  if (err.reason === 'InvalidCredentials') return 'a valid API key (and x-org-id for a multi-tenant administrator)';
  if (err.reason === 'AccessDenied') return err.missingPermission ?? probe.permission;
  return undefined;
}
