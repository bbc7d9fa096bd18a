// What an apiserver failure means for a reconcile. The apiserver's own message is kept (it names the
// object and the field); the client library's text, which carries every response header, never is.
import { InternalError, StallError, TransientError, describeError, type IdpSyncError } from '../errors.js';
import { statusCode } from './client.js';

/** The apiserver's message for a failed request, or a short description when it sent none. */
export function apiServerMessage(err: unknown): string {
  const body = (err as { body?: unknown })?.body;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
  }
  const message = (parsed as { message?: unknown } | undefined)?.message;
  if (typeof message === 'string' && message) return message;
  const code = statusCode(err);
  if (code !== undefined) return `the apiserver answered HTTP ${code}`;
  // A connection failure: the library's message is the socket error (no headers were received).
  return describeError(err).split('\n')[0];
}

/** Whether the apiserver refused this one object for what it is (schema, CEL, a bad name), not for now. */
export function isRefusal(err: unknown): boolean {
  const code = statusCode(err);
  return code === 400 || code === 422;
}

/** Seconds from a Retry-After header, where the apiserver sent one (429 and some 5xx). */
export function retryAfterMs(err: unknown): number | undefined {
  const headers = (err as { headers?: Record<string, string> })?.headers;
  const value = headers?.['retry-after'] ?? headers?.['Retry-After'];
  const seconds = value !== undefined ? Number(value) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/**
 * 403 stalls (only a change to RBAC fixes it); 409, 429, 5xx and connection failures are retried with
 * backoff; any other status is the apiserver refusing what the operator sent, also retried, and named.
 */
export function classifyClusterError(err: unknown, doing: string): IdpSyncError {
  const code = statusCode(err);
  const message = `${doing}: ${apiServerMessage(err)}`;
  if (code === 403) return new StallError('AccessDenied', `the operator is not allowed to do this in the cluster: ${message}`, { cause: err });
  if (code === 409) return new TransientError('Conflict', message, { cause: err, origin: 'cluster' });
  if (code === undefined || code === 429 || code >= 500) {
    return new TransientError('ApiServerUnavailable', message, { cause: err, origin: 'cluster', retryAfterMs: retryAfterMs(err) });
  }
  return new TransientError('ApiServerRejected', message, { cause: err, origin: 'cluster' });
}

/** Whether an error came from an apiserver request (it carries an HTTP status or is a client-node ApiException). */
export function isClusterError(err: unknown): boolean {
  return statusCode(err) !== undefined || (err as { constructor?: { name?: string } })?.constructor?.name === 'ApiException';
}

/** Anything that is neither typed nor from the apiserver is a bug in the operator. */
export function asInternalError(err: unknown): InternalError {
  return new InternalError(`internal error: ${describeError(err).split('\n')[0]}`, { cause: err });
}
