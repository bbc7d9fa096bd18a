// What one SCIM request may cost; each limit is answered with a SCIM error, never a dropped connection.
export interface ScimLimits {
  /** Sustained requests per second per directory (its token), per replica; 0 turns the limit off. */
  ratePerSecond: number;
  /** Requests a directory may send at once above the sustained rate. */
  burst: number;
  maxBodyBytes: number;
  /** Time allowed to receive the request headers, and the whole request (node's http server timeouts). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

/** Entra ID provisions at up to about 25 requests/s and Okta in bursts of parallel requests: both pass. */
export const DEFAULT_SCIM_LIMITS: ScimLimits = {
  ratePerSecond: 50,
  burst: 100,
  maxBodyBytes: 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
};
