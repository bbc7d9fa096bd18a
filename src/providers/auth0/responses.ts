// How Auth0 signals rate limits and errors, as hooks for IdpHttpClient.
import { TransientError, type IdpSyncError } from '../../errors.js';
import { parseRetryAfter } from '../../util/http.js';

/** Pause before a 429 when fewer than this share of the bucket's requests are left. */
export const LOW_BUDGET_SHARE = 0.1;
/** Never pause longer than this on the strength of a header (a wrong clock or header must not stall a sync for long). */
const MAX_PAUSE_MS = 5 * 60_000;

interface RateLimit {
  limit: number;
  remaining: number;
  /** When the bucket has refilled, ms since the epoch (Auth0 sends Unix seconds). */
  resetAt: number;
}

/** X-RateLimit-Limit, -Remaining and -Reset, which Auth0 sends with every Management API answer. */
export function readRateLimit(headers: Headers): RateLimit | undefined {
  const limit = Number(headers.get('x-ratelimit-limit') ?? NaN);
  const remaining = Number(headers.get('x-ratelimit-remaining') ?? NaN);
  const reset = Number(headers.get('x-ratelimit-reset') ?? NaN);
  if (![limit, remaining, reset].every(Number.isFinite) || limit <= 0) return undefined;
  return { limit, remaining, resetAt: reset * 1000 };
}

function untilReset(resetAt: number, now: number): number {
  return Math.min(MAX_PAUSE_MS, Math.max(0, resetAt - now));
}

/**
 * The Management API's bucket is shared with everything else that calls the tenant (the dashboard,
 * Actions, other integrations), so the read stops when the bucket runs low instead of emptying it,
 * and waits for the reset. `inFlight` requests may already be on their way, so that many are kept back.
 */
export function pauseFromHeaders(headers: Headers, now: number, inFlight = 1): number | undefined {
  const rl = readRateLimit(headers);
  if (!rl) return undefined;
  const floor = Math.max(inFlight, Math.ceil(rl.limit * LOW_BUDGET_SHARE));
  return rl.remaining < floor ? untilReset(rl.resetAt, now) : undefined;
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
  const rl = readRateLimit(headers);
  const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now) ?? (rl ? untilReset(rl.resetAt, now) : undefined);
  const text = errorText(body);
  return new TransientError(
    'RateLimited',
    `Auth0: ${where} answered 429${text ? `: ${text}` : ''}${rl ? ` (limit ${rl.limit}, resets at ${new Date(rl.resetAt).toISOString()})` : ''}`,
    { retryAfterMs },
  );
}
