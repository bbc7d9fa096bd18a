// Access tokens for the Management API: the client credentials grant of a Machine to Machine
// application, with the Management API as the audience.
import * as oidc from 'openid-client';
import { StallError } from '../../errors.js';
import { type IdpHttpClient } from '../http.js';
import { tokenEndpointError } from '../oauth-errors.js';
import type { IssuedToken } from '../token.js';
import { tokenClient } from '../oauth-client.js';

export interface Auth0Endpoints {
  /** {base}/ — Auth0's issuer ends with a slash. */
  issuer: string;
  /** {base}/oauth/token */
  tokenUrl: URL;
  /** {base}/api/v2/ (with the trailing slash) */
  apiBase: URL;
  /** The Management API's identifier: https://{domain}/api/v2/ unless set. */
  audience: string;
}

/**
 * The tenant's URLs. Requests go to `base` (the tenant domain, or a custom domain or proxy in front
 * of it), but the Management API keeps its identifier on the tenant's own Auth0 domain, so the
 * audience comes from `domain`, never from a custom domain.
 */
export function endpoints(base: URL, domain: string, audience?: string): Auth0Endpoints {
  const root = base.href.replace(/\/+$/, '');
  return {
    issuer: `${root}/`,
    tokenUrl: new URL(`${root}/oauth/token`),
    apiBase: new URL(`${root}/api/v2/`),
    audience: audience ?? `https://${domain}/api/v2/`,
  };
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  allowInsecureLoopback?: boolean;
  now?: () => number;
}

/** Issues tokens; each carries the scopes Auth0 granted (its client grant's scopes). */
export function createTokenIssuer(urls: Auth0Endpoints, client: ClientCredentials, http: IdpHttpClient): () => Promise<IssuedToken & { scopes: string[] }> {
  const config = tokenClient({ ...urls, allowInsecureLoopback: client.allowInsecureLoopback }, client.clientId, oidc.ClientSecretPost(client.clientSecret), http);
  return async () => {
    try {
      const token = await oidc.clientCredentialsGrant(config, { audience: urls.audience });
      return { accessToken: token.access_token, expiresIn: token.expires_in, scopes: (token.scope ?? '').split(' ').filter(Boolean) };
    } catch (err) {
      throw tokenError(err, urls, client.clientId, client.now);
    }
  };
}

/** The shared rule, with Auth0's own words: it answers access_denied for several different refusals. */
export function tokenError(err: unknown, urls: Auth0Endpoints, clientId: string, now?: () => number) {
  const credentialsHint = `Check spec.provider.auth0.clientId (${clientId}) and the Secret's "clientSecret" (the application's Settings tab).`;
  return tokenEndpointError(err, {
    idpName: 'Auth0',
    tokenUrl: urls.tokenUrl.href,
    now,
    credentialsHint,
    refine: (refusal) => {
      const description = refusal.description ?? '';
      if (/client-grant|not authorized to access/i.test(description)) {
        return new StallError(
          'AccessDenied',
          `Auth0 will not issue client ${clientId} a token for ${urls.audience} (${refusal.said}). Authorize the application for the ` +
            `Auth0 Management API (Applications › APIs › Auth0 Management API › Machine to Machine Applications) with the scopes idpsync needs.`,
          { missingPermission: `a client grant for ${urls.audience}` },
        );
      }
      if (/service not (found|enabled)/i.test(description)) {
        return new StallError(
          'InvalidConfiguration',
          `Auth0 does not know the audience ${urls.audience} (${refusal.said}). Set spec.provider.auth0.domain to the tenant's own ` +
            `Auth0 domain (e.g. your-tenant.us.auth0.com, not a custom domain), or spec.provider.auth0.audience to the Management API's identifier.`,
        );
      }
      if (/grant type/i.test(description)) {
        return new StallError(
          'InvalidConfiguration',
          `Auth0 will not let client ${clientId} use client credentials (${refusal.said}). Use a Machine to Machine application, or turn on ` +
            `the Client Credentials grant (Settings › Advanced Settings › Grant Types).`,
        );
      }
      if (refusal.error === 'access_denied' && refusal.status === 401) {
        return new StallError('InvalidCredentials', `Auth0 rejected the client credentials (${refusal.said}). ${credentialsHint}`);
      }
      return undefined;
    },
  });
}
