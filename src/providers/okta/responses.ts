// How Okta signals rate limits and errors, as hooks for IdpHttpClient.
import { TransientError, type IdpSyncError } from '../../errors.js';
import { BudgetHeaders } from '../budget-headers.js';

const budget = new BudgetHeaders('x-rate-limit-');

/** Pauses before a 429 when the tenant's shared budget runs low (see budget-headers.ts). */
export function pauseFromHeaders(headers: Headers, now: number, inFlight = 1): number | undefined {
  return budget.pauseFromHeaders(headers, now, inFlight);
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
  const text = errorText(body);
  const rl = budget.read(headers);
  return new TransientError(
    'RateLimited',
    `Okta: ${where} answered 429${text ? `: ${text}` : ''}${rl ? ` (limit ${rl.limit} per window, resets at ${new Date(rl.resetAt).toISOString()})` : ''}`,
    { retryAfterMs: budget.untilReset(headers, now) },
  );
}
