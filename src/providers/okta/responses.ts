// How Okta signals rate limits and errors, as hooks for IdpHttpClient.
import { TransientError, type IdpSyncError } from '../../errors.js';

/** Pause when less than this share of the rate-limit window's budget is left. */
export const LOW_BUDGET_SHARE = 0.1;
/** Never pause longer than this on the strength of a header (a wrong clock or header must not stall a sync for long). */
const MAX_PAUSE_MS = 5 * 60_000;

interface RateLimit {
  limit: number;
  remaining: number;
  /** When the window resets, ms since the epoch. */
  resetAt: number;
}

export function readRateLimit(headers: Headers): RateLimit | undefined {
  const limit = Number(headers.get('x-rate-limit-limit') ?? NaN);
  const remaining = Number(headers.get('x-rate-limit-remaining') ?? NaN);
  const reset = Number(headers.get('x-rate-limit-reset') ?? NaN);
  if (![limit, remaining, reset].every(Number.isFinite) || limit <= 0) return undefined;
  return { limit, remaining, resetAt: reset * 1000 };
}

function untilReset(resetAt: number, now: number): number {
  return Math.min(MAX_PAUSE_MS, Math.max(0, resetAt - now));
}

/**
 * Okta's limits are shared with every other integration in the customer's org, so rather than
 * spending the budget to the last call we stop when it runs low and wait for the window to reset.
 * `inFlight` requests may already be on their way when we read the headers, so at least that many
 * are kept in reserve.
 */
export function pauseFromHeaders(headers: Headers, now: number, inFlight = 1): number | undefined {
  const rl = readRateLimit(headers);
  if (!rl) return undefined;
  const floor = Math.max(inFlight, Math.ceil(rl.limit * LOW_BUDGET_SHARE));
  return rl.remaining < floor ? untilReset(rl.resetAt, now) : undefined;
}

/** "E0000006: You do not have permission…" from Okta's error body. */
export function errorText(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return typeof body === 'string' && body ? body : undefined;
  const { errorCode, errorSummary, errorCauses } = body as {
    errorCode?: unknown;
    errorSummary?: unknown;
    errorCauses?: { errorSummary?: unknown }[];
  };
  const causes = Array.isArray(errorCauses)
    ? errorCauses.map((c) => c?.errorSummary).filter((s): s is string => typeof s === 'string' && s !== '')
    : [];
  const summary = [typeof errorSummary === 'string' ? errorSummary : undefined, ...causes].filter(Boolean).join(' ');
  if (typeof errorCode === 'string' && summary) return `${errorCode}: ${summary}`;
  return summary || (typeof errorCode === 'string' ? errorCode : undefined);
}

/** A 429 carries no Retry-After; X-Rate-Limit-Reset says when the window reopens. */
export function classify(status: number, body: unknown, headers: Headers, where: string, now = Date.now()): IdpSyncError | undefined {
  if (status !== 429) return undefined;
  const rl = readRateLimit(headers);
  const text = errorText(body);
  return new TransientError(
    'RateLimited',
    `Okta: ${where} answered 429${text ? `: ${text}` : ''}${rl ? ` (limit ${rl.limit} per window, resets at ${new Date(rl.resetAt).toISOString()})` : ''}`,
    { retryAfterMs: rl ? untilReset(rl.resetAt, now) : undefined },
  );
}
