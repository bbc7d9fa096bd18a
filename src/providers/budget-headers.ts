// Rate-limit budget headers (limit, remaining, reset in Unix seconds), as Okta (X-Rate-Limit-*) and
// Auth0 (X-RateLimit-*) send them on every answer. Their budgets are shared with everything else that
// calls the tenant, so a read stops when the budget runs low instead of spending it to the last call.

/** Pause when fewer than this share of the window's requests are left. */
export const LOW_BUDGET_SHARE = 0.1;
/** Never pause longer than this on the strength of a header (a wrong clock or header must not stall a sync for long). */
const MAX_PAUSE_MS = 5 * 60_000;

export interface RateLimitBudget {
  limit: number;
  remaining: number;
  /** When the window resets, ms since the epoch. */
  resetAt: number;
}

export class BudgetHeaders {
  /** `prefix` is the headers' common start, e.g. "x-rate-limit-" for X-Rate-Limit-Limit/-Remaining/-Reset. */
  constructor(private readonly prefix: string) {}

  read(headers: Headers): RateLimitBudget | undefined {
    const [limit, remaining, reset] = ['limit', 'remaining', 'reset'].map((name) => Number(headers.get(this.prefix + name) ?? NaN));
    if (![limit, remaining, reset].every(Number.isFinite) || limit <= 0) return undefined;
    return { limit, remaining, resetAt: reset * 1000 };
  }

  /** How long until the window resets, when the headers say so. */
  untilReset(headers: Headers, now: number): number | undefined {
    const budget = this.read(headers);
    return budget ? Math.min(MAX_PAUSE_MS, Math.max(0, budget.resetAt - now)) : undefined;
  }

  /** A pause until the reset once the budget runs low; `inFlight` requests may already be on their way, so that many are kept back. */
  pauseFromHeaders(headers: Headers, now: number, inFlight = 1): number | undefined {
    const budget = this.read(headers);
    if (!budget) return undefined;
    const floor = Math.max(inFlight, Math.ceil(budget.limit * LOW_BUDGET_SHARE));
    return budget.remaining < floor ? this.untilReset(headers, now) : undefined;
  }
}
