// How Google's APIs report errors, as hooks for IdpHttpClient. Google sends no rate-limit headers:
// running out of quota shows up as a 403 (or 429) whose error reason says so.
import { StallError, TransientError, type IdpSyncError } from '../../errors.js';
import { ADMIN_PRIVILEGES, SCOPES, type Resource } from './scopes.js';

/** Error reasons Google uses when a quota or rate limit is exhausted. */
const QUOTA_REASONS = new Set(['userRateLimitExceeded', 'rateLimitExceeded', 'quotaExceeded', 'dailyLimitExceeded']);

interface GoogleErrorBody {
  error?: {
    code?: unknown;
    message?: unknown;
    status?: unknown;
    errors?: { reason?: unknown; message?: unknown }[];
  };
}

export interface GoogleError {
  message?: string;
  /** The first errors[].reason, e.g. "userRateLimitExceeded", "insufficientPermissions", "forbidden". */
  reason?: string;
}

export function readGoogleError(body: unknown): GoogleError {
  const error = (body as GoogleErrorBody | undefined)?.error;
  if (typeof error !== 'object' || error === null) return typeof body === 'string' && body ? { message: body } : {};
  const first = Array.isArray(error.errors) ? error.errors.find((e) => typeof e?.reason === 'string') : undefined;
  return {
    message: typeof error.message === 'string' && error.message ? error.message : undefined,
    reason: typeof first?.reason === 'string' ? first.reason : undefined,
  };
}

/** "Not Authorized to access this resource/api (forbidden)" from Google's error body. */
export function errorText(body: unknown): string | undefined {
  const { message, reason } = readGoogleError(body);
  if (message && reason) return `${message} (${reason})`;
  return message ?? reason;
}

export function isQuotaError(status: number, body: unknown): boolean {
  if (status === 429) return true;
  const { reason } = readGoogleError(body);
  return status === 403 && reason !== undefined && QUOTA_REASONS.has(reason);
}

/** Which Directory API resource a request path reads. */
export function resourceOf(where: string): Resource | undefined {
  const path = where.replace(/^[a-z]+:\/\/[^/]+/i, '');
  if (/\/orgunits(\/|$)/.test(path)) return 'orgUnits';
  if (/\/groups\/[^/]+\/members$/.test(path)) return 'members';
  if (/\/groups$/.test(path)) return 'groups';
  if (/\/users$/.test(path)) return 'users';
  return undefined;
}

/** A 403 caused by the token's scopes rather than by the impersonated admin's role. */
function isScopeProblem(error: GoogleError): boolean {
  return error.reason === 'insufficientPermissions' || /scope/i.test(error.message ?? '');
}

export function classify(status: number, body: unknown, _headers: Headers, where: string): IdpSyncError | undefined {
  const text = errorText(body);
  const detail = `Google: ${where} answered ${status}${text ? `: ${text}` : ''}`;
  if (isQuotaError(status, body)) return new TransientError('RateLimited', detail);
  if (status !== 403) return undefined;
  const error = readGoogleError(body);
  if (error.reason === 'accessNotConfigured') {
    return new StallError('AccessDenied', `${detail}. Enable the Admin SDK API in the service account's Google Cloud project`, {
      missingPermission: 'Admin SDK API (admin.googleapis.com) enabled in the project',
    });
  }
  const resource = resourceOf(where);
  if (!resource) return new StallError('AccessDenied', detail);
  if (isScopeProblem(error)) {
    const scope = SCOPES[resource];
    return new StallError('AccessDenied', `${detail}. Authorise scope ${scope} for the service account's domain-wide delegation`, {
      missingPermission: scope,
    });
  }
  const privilege = ADMIN_PRIVILEGES[resource];
  return new StallError(
    'AccessDenied',
    `${detail}. The impersonated admin (spec.provider.googleWorkspace.impersonate) needs an admin role with ${privilege}`,
    { missingPermission: privilege },
  );
}
