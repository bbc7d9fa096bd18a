// How Auth0 signals rate limits and errors, as hooks for IdpHttpClient.
import { TransientError, type IdpSyncError } from '../../errors.js';
import { BudgetHeaders } from '../budget-headers.js';
import { parseRetryAfter } from '../../util/http.js';

const budget = new BudgetHeaders('x-ratelimit-');

/** Pauses before a 429 when the tenant's shared budget runs low (see budget-headers.ts). */
export function pauseFromHeaders(headers: Headers, now: number, inFlight = 1): number | undefined {
  return budget.pauseFromHeaders(headers, now, inFlight);
}

/** `{"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: read:users","errorCode":"insufficient_scope"}` */
export function errorText(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  if (typeof body !== 'object' || body === null) return undefined;
  const { message, errorCode, error, error_description: description } = body as Record<string, unknown>;
  const text = [message, description].find((p): p is string => typeof p === 'string' && p !== '') ?? (typeof error === 'string' ? error : undefined);
  if (!text) return typeof errorCode === 'string' ? errorCode : undefined;
  return typeof errorCode === 'string' && errorCode !== '' ? `${text} (${errorCode})` : text;
}

/** The scopes a 403 names: "Insufficient scope, expected any of: read:users,read:current_user". */
export function expectedScopes(body: unknown): string[] {
  const message = (body as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') return [];
  const match = /expected (?:any|all) of:\s*(.+)$/i.exec(message);
  return match ? match[1].split(/[\s,]+/).filter(Boolean) : [];
}

/** A 429 carries no Retry-After as a rule; X-RateLimit-Reset says when the bucket has refilled. */
export function classify(status: number, body: unknown, headers: Headers, where: string, now = Date.now()): IdpSyncError | undefined {
  if (status !== 429) return undefined;
  const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now) ?? budget.untilReset(headers, now);
  const text = errorText(body);
  const rl = budget.read(headers);
  return new TransientError(
    'RateLimited',
    `Auth0: ${where} answered 429${text ? `: ${text}` : ''}${rl ? ` (limit ${rl.limit}, resets at ${new Date(rl.resetAt).toISOString()})` : ''}`,
    { retryAfterMs },
  );
}
