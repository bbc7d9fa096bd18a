// One reading of a failed token request for every driver. The rule, in order:
//   429                                  → RateLimited (transient), honouring Retry-After
//   5xx, 408                             → IdpUnavailable (transient), honouring Retry-After
//   an OAuth error the IdP's own reading knows (TokenEndpoint.refine) → what it says
//   invalid_client, invalid_grant, unauthorized_client → Stall InvalidCredentials
//   invalid_scope                        → Stall AccessDenied
//   any other 4xx (OAuth error or not)   → Stall InvalidConfiguration: a token endpoint that refuses
//                                          a well-formed request without an OAuth reason is almost
//                                          always a wrong token URL or a proxy in the way, and retrying
//                                          will not change that; the message names the status and URL.
//   unreachable, timed out, unreadable   → NetworkError, Timeout, MalformedResponse (transient)
// Messages carry the IdP's error code and description, never the request (assertions, secrets).
import * as oidc from 'openid-client';
import { IdpSyncError, StallError, TransientError } from '../errors.js';
import { parseRetryAfter } from '../util/http.js';

/** A token endpoint's refusal, as the drivers' refinements see it. */
export interface OAuthRefusal {
  status: number;
  /** The OAuth "error" code, e.g. "invalid_client". */
  error: string;
  description?: string;
  /** The whole error body, for IdP-specific fields (e.g. Entra's error_codes). */
  body: Record<string, unknown>;
  /** "error: description", for messages. */
  said: string;
}

export interface TokenEndpoint {
  /** Name of the IdP in messages, e.g. "Okta". */
  idpName: string;
  tokenUrl: string;
  now?: () => number;
  /** What to check when the IdP refuses the client's credentials; appended to the message. */
  credentialsHint?: string;
  /**
   * The IdP's own reading of a 4xx OAuth error where it says more than the shared table (a scope
   * it names, a code with a known fix). Return undefined to fall back to the table.
   */
  refine?: (refusal: OAuthRefusal) => IdpSyncError | undefined;
}

const CREDENTIAL_ERRORS = new Set(['invalid_client', 'invalid_grant', 'unauthorized_client']);

/** Maps anything a token request threw (openid-client errors, fetch failures) to a typed error. */
export function tokenEndpointError(err: unknown, endpoint: TokenEndpoint): IdpSyncError {
  if (err instanceof IdpSyncError) return err;
  const where = `${endpoint.idpName} token endpoint ${endpoint.tokenUrl}`;
  const now = (endpoint.now ?? Date.now)();

  if (err instanceof oidc.ResponseBodyError) {
    const refusal: OAuthRefusal = {
      status: err.status,
      error: err.error,
      description: err.error_description,
      body: (err.cause ?? {}) as Record<string, unknown>,
      said: `${err.error}${err.error_description ? `: ${err.error_description}` : ''}`,
    };
    const transient = byStatus(err.status, err.response, `${where} answered ${err.status}: ${refusal.said}`, now);
    if (transient) return transient;
    const refined = endpoint.refine?.(refusal);
    if (refined) return refined;
    if (CREDENTIAL_ERRORS.has(err.error)) {
      const hint = endpoint.credentialsHint ? ` ${endpoint.credentialsHint}` : '';
      return new StallError('InvalidCredentials', `${endpoint.idpName} rejected the client credentials (${refusal.said}).${hint}`);
    }
    if (err.error === 'invalid_scope') {
      return new StallError('AccessDenied', `${where} refused the requested scopes (${refusal.said})`);
    }
    return new StallError('InvalidConfiguration', `${where} answered ${err.status}: ${refusal.said}`);
  }

  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    const hint = endpoint.credentialsHint ? ` ${endpoint.credentialsHint}` : '';
    return new StallError('InvalidCredentials', `${where} refused the client (${err.status}).${hint}`);
  }

  // openid-client reports a non-OAuth answer (an HTML error page, an empty 404) with the Response as cause.
  const response = (err as { cause?: unknown })?.cause;
  if (response instanceof Response) {
    const message = `${where} answered ${response.status}`;
    const transient = byStatus(response.status, response, message, now);
    if (transient) return transient;
    if (response.status >= 400) {
      return new StallError(
        'InvalidConfiguration',
        `${message} without an OAuth error; check the token URL and any proxy between the operator and ${endpoint.idpName}`,
      );
    }
    return new TransientError('MalformedResponse', `${message} with a body that is not a token response`, { cause: err });
  }

  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.code === 'OAUTH_TIMEOUT' || e?.cause?.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new TransientError('Timeout', `${where} timed out`, { cause: err });
  }
  if (e instanceof oidc.ClientError) {
    return new TransientError('MalformedResponse', `${where} gave an unusable answer: ${e.message}`, { cause: err });
  }
  const why = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
  return new TransientError('NetworkError', `${where} could not be reached: ${why}`, { cause: err });
}

function byStatus(status: number, response: Response | undefined, message: string, now: number): TransientError | undefined {
  const retryAfterMs = parseRetryAfter(response?.headers.get('retry-after') ?? null, now);
  if (status === 429) return new TransientError('RateLimited', message, { retryAfterMs });
  if (status === 408 || status >= 500) return new TransientError('IdpUnavailable', message, { retryAfterMs });
  return undefined;
}
