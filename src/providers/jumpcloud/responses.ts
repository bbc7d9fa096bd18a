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

/**
 * A 401 means JumpCloud did not accept the key for this organization. A multi-tenant admin's key
 * is refused the same way when no organization is named (x-org-id), so say which it likely is.
 */
export function classifyFor(orgId: string | undefined) {
  return (status: number, body: unknown, _headers: Headers, where: string): IdpSyncError | undefined => {
    if (status !== 401) return undefined;
    const text = errorText(body);
    const aboutOrg = /organi[sz]ation/i.test(text ?? '');
    const hint = aboutOrg
      ? orgId
        ? `; check that organization ${orgId} is one this administrator manages`
        : '; the key belongs to a multi-tenant administrator: set spec.provider.jumpcloud.orgId to the organization to sync'
      : '; check the Secret\'s "apiKey", that the key has not expired or been regenerated, and that API access is enabled for its administrator';
    return new StallError('InvalidCredentials', `JumpCloud: the API key was rejected by ${where} (401${text ? `: ${text}` : ''})${hint}`);
  };
}
