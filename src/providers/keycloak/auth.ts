// Access tokens for the Admin REST API: the client credentials grant of a confidential client whose
// service account holds the realm-management roles the sync needs.
import * as oidc from 'openid-client';
import { StallError } from '../../errors.js';
import { type IdpHttpClient } from '../http.js';
import { tokenEndpointError } from '../oauth-errors.js';
import type { IssuedToken } from '../token.js';
import { tokenClient } from '../oauth-client.js';

export interface KeycloakEndpoints {
  /** {base}/realms/{realm} */
  issuer: string;
  /** {base}/realms/{realm}/protocol/openid-connect/token */
  tokenUrl: URL;
  /** {base}/admin/realms/{realm}/ (with the trailing slash) */
  adminBase: URL;
}

/** The realm's URLs under a server URL that may carry a path (e.g. /auth before Keycloak 17). */
export function endpoints(base: URL, realm: string): KeycloakEndpoints {
  const root = base.href.replace(/\/+$/, '');
  const name = encodeURIComponent(realm);
  return {
    issuer: `${root}/realms/${name}`,
    tokenUrl: new URL(`${root}/realms/${name}/protocol/openid-connect/token`),
    adminBase: new URL(`${root}/admin/realms/${name}/`),
  };
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  allowInsecureLoopback?: boolean;
  now?: () => number;
}

export function createTokenIssuer(urls: KeycloakEndpoints, client: ClientCredentials, http: IdpHttpClient): () => Promise<IssuedToken> {
  const config = tokenClient({ ...urls, allowInsecureLoopback: client.allowInsecureLoopback }, client.clientId, oidc.ClientSecretPost(client.clientSecret), http);
  return async () => {
    try {
      const token = await oidc.clientCredentialsGrant(config);
      return { accessToken: token.access_token, expiresIn: token.expires_in };
    } catch (err) {
      throw tokenError(err, urls.tokenUrl.href, client.clientId, client.now);
    }
  };
}

/** The shared rule, with Keycloak's own words for a client that has no service account. */
export function tokenError(err: unknown, tokenUrl: string, clientId: string, now?: () => number) {
  return tokenEndpointError(err, {
    idpName: 'Keycloak',
    tokenUrl,
    now,
    credentialsHint: `Check spec.provider.keycloak.clientId (${clientId}) and the Secret's "clientSecret" (the client's Credentials tab).`,
    refine: (refusal) => {
      if (/service account/i.test(refusal.description ?? '')) {
        return new StallError(
          'InvalidConfiguration',
          `Keycloak will not issue client ${clientId} a token of its own (${refusal.said}). Turn on "Service accounts roles" ` +
            `(Client authentication on, Authentication flow: Service accounts roles) in the client's settings.`,
        );
      }
      return undefined;
    },
  });
}
