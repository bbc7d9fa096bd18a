// Typed errors decide what the controller does next:
//   StallError     – cannot fix itself (bad credentials, missing permission, bad config):
//                    Stalled=True, no retry until the spec, the Secret or the sync-now annotation changes.
//   TransientError – the IdP, the network or the apiserver failed for now: retry with per-key
//                    exponential backoff, or after `retryAfterMs` when the other side said when.
//                    `origin` says whose failure it was, so IdpReachable reflects only the IdP.
//   InternalError  – a bug in the operator (an unexpected exception): logged with its stack, retried
//                    with backoff, and reported as such instead of being blamed on the network.
// Messages must never contain secret values; they are shown in status and events.

export abstract class IdpSyncError extends Error {
  /** Condition reason, CamelCase, e.g. "InvalidCredentials". */
  abstract readonly reason: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export type StallReason =
  | 'InvalidCredentials'
  | 'AccessDenied'
  | 'InvalidConfiguration'
  | 'SecretNotFound'
  | 'UnsupportedProvider';

export class StallError extends IdpSyncError {
  constructor(
    readonly reason: StallReason,
    message: string,
    options?: { cause?: unknown; missingPermission?: string },
  ) {
    super(message, options);
    this.missingPermission = options?.missingPermission;
  }
  readonly missingPermission?: string;
}

export type TransientReason =
  | 'RateLimited'
  | 'IdpUnavailable'
  | 'Timeout'
  | 'MalformedResponse'
  | 'NetworkError'
  | 'Conflict'
  | 'ApiServerUnavailable'
  | 'ApiServerRejected'
  | 'ShuttingDown';

export type ErrorOrigin = 'idp' | 'cluster';

export class TransientError extends IdpSyncError {
  constructor(
    readonly reason: TransientReason,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number; origin?: ErrorOrigin },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
    this.origin = options?.origin ?? 'idp';
  }
  readonly retryAfterMs?: number;
  readonly origin: ErrorOrigin;
}

export class InternalError extends IdpSyncError {
  readonly reason = 'InternalError';
}

export function isStall(err: unknown): err is StallError {
  return err instanceof StallError;
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
