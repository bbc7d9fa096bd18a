// What an IdP has lately said about its rate limit, for the reconciler: a listing that runs out of time
// while the IdP keeps answering 429 (or Google's 403 quota error) was held back by the IdP, not slow, and
// its status should say so. The drivers' shared rate-limit gate records every answer it sees here.
import { TransientError } from '../errors.js';

export class RateLimitRecord {
  /** Times of the rate-limit answers since the last successful one. */
  private run: number[] = [];

  /** The IdP answered a request with a rate-limit (or quota) error. */
  limited(at: number): void {
    this.run.push(at);
    // Only the count of a recent run is ever asked for; a storm must not grow this without bound.
    if (this.run.length > 10_000) this.run.splice(0, this.run.length - 10_000);
  }

  /** The IdP answered a request successfully: whatever it refused before is over. */
  succeeded(): void {
    this.run = [];
  }

  /** Rate-limit answers at or after `since` that no successful answer has followed; 0 when the IdP has answered since. */
  limitedSince(since: number): number {
    return this.run.filter((at) => at >= since).length;
  }
}

/** Why a listing did not finish in time: the IdP's rate limiting when it kept refusing, or plain slowness. */
export function listingTimedOut(timeoutMs: number, rateLimitAnswers: number, cause: unknown): TransientError {
  const within = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`;
  if (rateLimitAnswers > 0) {
    return new TransientError(
      'RateLimited',
      `the IdP kept answering with rate-limit or quota errors (429 or its quota error, ${rateLimitAnswers} during this listing), so the listing did not finish within ${within}; nothing was changed${LONGER_READ}`,
      { cause },
    );
  }
  return new TransientError('Timeout', `the IdP did not finish the listing within ${within}; nothing was changed${LONGER_READ}`, { cause });
}

/** Every attempt starts the listing again, so a directory too large for the limit would never finish without this. */
const LONGER_READ = '; a directory too large to read in that time needs a longer --idp-read-timeout (chart value idpReadTimeout)';
