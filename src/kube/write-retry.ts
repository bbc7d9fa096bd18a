// One object's write refused for now is sent again a few times before it fails a sync: a 409 Conflict
// (the object changed under the write; a server-side apply is declarative, so sending it again is the
// fix) and a 429 from API Priority and Fairness with a short Retry-After (client-go retries those on its
// own). A failed sync backs off for tens of seconds, which is a long wait for one busy object.
import { DelegateBackoff, handleWhen, retry, type IRetryBackoffContext, type RetryPolicy } from 'cockatiel';
import { statusCode } from './client.js';
import { retryAfterMs } from './errors.js';

export interface WriteRetryOptions {
  /** Sends after the first. Default 4. */
  retries?: number;
  /** First wait after a conflict; doubles each time, with jitter. Default 100 ms. */
  baseDelayMs?: number;
  /** Longest wait after a conflict, and the longest Retry-After waited out here. Default 2 s. */
  maxDelayMs?: number;
  random?: () => number;
}

/** Whether a write failed in a way that sending it again shortly may fix. */
export function isRetryableWrite(err: unknown, maxDelayMs = 2000): boolean {
  const code = statusCode(err);
  if (code === 409) return true;
  // A longer Retry-After is the sync's to wait out: its backoff honours it (classifyClusterError).
  return code === 429 && (retryAfterMs(err) ?? 0) <= maxDelayMs;
}

/** The retry policy for one object's write, as applyPlan uses it. */
export function writeRetryPolicy(options: WriteRetryOptions = {}): RetryPolicy {
  const base = options.baseDelayMs ?? 100;
  const max = options.maxDelayMs ?? 2000;
  const random = options.random ?? Math.random;
  const delay = (context: IRetryBackoffContext<unknown>): number => {
    const error = 'error' in context.result ? context.result.error : undefined;
    const asked = retryAfterMs(error);
    if (asked !== undefined) return asked + random() * base;
    const exp = Math.min(max, base * 2 ** (context.attempt - 1));
    return exp / 2 + random() * (exp / 2);
  };
  return retry(
    handleWhen((err) => isRetryableWrite(err, max)),
    { maxAttempts: options.retries ?? 4, backoff: new DelegateBackoff(delay) },
  );
}
