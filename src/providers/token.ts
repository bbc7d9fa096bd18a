// Caches an access token until shortly before it expires; drivers force a refresh once on a 401.
import { StallError } from '../errors.js';

export interface IssuedToken {
  accessToken: string;
  /** Lifetime in seconds as the IdP reported it. */
  expiresIn?: number;
}

export class TokenCache {
  private token?: string;
  private expiresAt = 0;
  private inflight?: Promise<string>;

  constructor(
    private readonly issue: () => Promise<IssuedToken>,
    private readonly now: () => number = Date.now,
    /** Refresh this long before expiry. */
    private readonly skewMs = 60_000,
  ) {}

  async get(forceRefresh = false): Promise<string> {
    if (!forceRefresh && this.token && this.now() < this.expiresAt - this.skewMs) return this.token;
    this.inflight ??= this.issue()
      .then((t) => {
        this.token = t.accessToken;
        this.expiresAt = this.now() + (t.expiresIn ?? 3600) * 1000;
        return t.accessToken;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  /** Runs `call` with a token; on an authentication failure refreshes the token once and tries again. */
  async withToken<T>(call: (token: string) => Promise<T>): Promise<T> {
    const token = await this.get();
    try {
      return await call(token);
    } catch (err) {
      if (!(err instanceof StallError) || err.reason !== 'InvalidCredentials') throw err;
      return call(await this.get(true));
    }
  }
}
