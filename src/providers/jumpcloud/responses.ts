// How JumpCloud words its errors, as hooks for IdpHttpClient.
import { StallError, type IdpSyncError } from '../../errors.js';

/** JumpCloud error bodies carry `message` (and sometimes `error`): {"error":"Unauthorized","message":"Unauthorized: api key user not found"}. */
export function errorText(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  if (typeof body !== 'object' || body === null) return undefined;
  const { message, error } = body as { message?: unknown; error?: unknown };
  if (typeof message === 'string' && message) return message;
  if (typeof error === 'string' && error) return error;
  return undefined;
}

/** What an administrator needs for a request, in the terms of JumpCloud's admin roles. */
export function permissionFor(where: string): string {
  if (/\/api\/v2\/applications\//.test(where)) return 'view access to SSO Applications';
  if (/\/api\/v2\/usergroups/.test(where)) return 'view access to User Groups';
  if (/\/api\/systemusers/.test(where)) return 'view access to Users';
  return 'read access';
}

const mentionsOrganization = (text: string | undefined) => /organi[sz]ation/i.test(text ?? '');

/**
 * A 401 means JumpCloud did not accept the key; a multi-tenant administrator's key is refused the
 * same way when no organization is named (x-org-id), so say which it likely is. A 403 is the key's
 * administrator lacking a permission, or the organization being one they do not manage.
 */
export function classifyFor(orgId: string | undefined) {
  return (status: number, body: unknown, _headers: Headers, where: string): IdpSyncError | undefined => {
    const text = errorText(body);
    const answered = `(${status}${text ? `: ${text}` : ''})`;
    if (status === 401) {
      const hint = mentionsOrganization(text)
        ? orgId
          ? `; check that organization ${orgId} is one this administrator manages`
          : '; the key belongs to a multi-tenant administrator: set spec.provider.jumpcloud.orgId to the organization to sync'
        : '; check the Secret\'s "apiKey", that the key has not expired or been regenerated, and that API access is enabled for its administrator';
      return new StallError('InvalidCredentials', `JumpCloud: the API key was rejected by ${where} ${answered}${hint}`);
    }
    if (status === 403) {
      if (mentionsOrganization(text)) {
        return new StallError(
          'AccessDenied',
          `JumpCloud: ${where} refused organization ${orgId ?? '(none set)'} ${answered}; set spec.provider.jumpcloud.orgId to an organization this administrator manages`,
        );
      }
      const permission = permissionFor(where);
      return new StallError(
        'AccessDenied',
        `JumpCloud: ${where} was refused ${answered}; the administrator who owns the API key needs ${permission} (the Read Only role has it)`,
        { missingPermission: permission },
      );
    }
    return undefined;
  };
}
