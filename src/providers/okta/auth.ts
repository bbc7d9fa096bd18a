// How the driver proves who it is to Okta: an OAuth 2.0 access token obtained with private_key_jwt
// (the way Okta recommends for service apps), or a legacy SSWS API token.
import { createPrivateKey } from 'node:crypto';
import * as oidc from 'openid-client';
import { importJWK, type JWK } from 'jose';
import { StallError, type IdpSyncError } from '../../errors.js';
import { tokenEndpointError } from '../oauth-errors.js';
import { type IdpHttpClient } from '../http.js';
import { TokenCache } from '../token.js';
import { tokenClient } from '../oauth-client.js';

export interface OktaAuthorizer {
  /** "Bearer …" or "SSWS …". */
  authorization(forceRefresh?: boolean): Promise<string>;
  /** Runs `call` with an Authorization header value, refreshing an OAuth token once on a 401. */
  withAuthorization<T>(call: (authorization: string) => Promise<T>): Promise<T>;
}

export class ApiTokenAuthorizer implements OktaAuthorizer {
  constructor(private readonly apiToken: string) {}
  async authorization(): Promise<string> {
    return `SSWS ${this.apiToken}`;
  }
  async withAuthorization<T>(call: (authorization: string) => Promise<T>): Promise<T> {
    return call(await this.authorization());
  }
}

export interface OAuthSettings {
  baseUrl: URL;
  clientId: string;
  keyId?: string;
  scopes: string[];
  allowInsecureLoopback?: boolean;
  now?: () => number;
}

export class OAuthAuthorizer implements OktaAuthorizer {
  readonly tokenUrl: string;
  private readonly tokens: TokenCache;
  private config?: Promise<oidc.Configuration>;

  constructor(
    private readonly settings: OAuthSettings,
    private readonly privateKey: string,
    private readonly http: IdpHttpClient,
  ) {
    this.tokenUrl = new URL('oauth2/v1/token', withTrailingSlash(settings.baseUrl)).toString();
    this.tokens = new TokenCache(() => this.issue(), settings.now);
  }

  async authorization(forceRefresh = false): Promise<string> {
    return `Bearer ${await this.tokens.get(forceRefresh)}`;
  }

  withAuthorization<T>(call: (authorization: string) => Promise<T>): Promise<T> {
    return this.tokens.withToken((token) => call(`Bearer ${token}`));
  }

  /**
   * A token with every scope the sync needs. When Okta refuses the set without saying which scope it
   * objects to, asks for each scope alone so that the error names exactly the ones to grant.
   */
  private async issue(): Promise<{ accessToken: string; expiresIn?: number }> {
    try {
      return await this.requestToken(this.settings.scopes);
    } catch (err) {
      if (!(err instanceof StallError) || err.reason !== 'AccessDenied' || err.missingPermission !== this.settings.scopes.join(' ')) throw err;
      if (this.settings.scopes.length < 2) throw err;
      const refused = await this.refusedScopes();
      if (refused.length === 0) throw err;
      throw scopeDenied(refused, oktaSaid(err.cause));
    }
  }

  /** The scopes Okta will not grant this client, found by asking for each alone. */
  async refusedScopes(): Promise<string[]> {
    const refused: string[] = [];
    for (const scope of this.settings.scopes) {
      try {
        await this.requestToken([scope]);
      } catch (err) {
        if (!(err instanceof StallError) || err.reason !== 'AccessDenied') throw err;
        refused.push(scope);
      }
    }
    return refused;
  }

  /** Asks Okta for a token with exactly these scopes (not cached). */
  async requestToken(scopes: string[]): Promise<{ accessToken: string; expiresIn?: number }> {
    const config = await (this.config ??= this.configure());
    try {
      const res = await oidc.clientCredentialsGrant(config, { scope: scopes.join(' ') });
      return { accessToken: res.access_token, expiresIn: res.expires_in };
    } catch (err) {
      throw tokenError(err, scopes, this.settings.clientId, this.tokenUrl, this.settings.now);
    }
  }

  private async configure(): Promise<oidc.Configuration> {
    const { key, kid } = await importPrivateKey(this.privateKey, this.settings.keyId);
    const tokenUrl = this.tokenUrl;
    const auth = oidc.PrivateKeyJwt(key, {
      ...(kid ? { kid } : {}),
      // Okta wants the token endpoint itself as the audience, not the issuer.
      [oidc.modifyAssertion]: (_header, payload) => {
        payload.aud = tokenUrl;
      },
    });
    const endpoint = { issuer: this.settings.baseUrl.origin, tokenUrl: new URL(tokenUrl), allowInsecureLoopback: this.settings.allowInsecureLoopback };
    const config = tokenClient(endpoint, this.settings.clientId, auth, this.http);
    return config;
  }
}

function withTrailingSlash(url: URL): URL {
  return url.pathname.endsWith('/') ? url : new URL(`${url.href}/`);
}

/**
 * Reads the Secret's privateKey: a PEM (PKCS#8, PKCS#1 or SEC1) or a private JWK as Okta's admin
 * console downloads it. The key id comes from settings.keyId, else from the JWK.
 */
export async function importPrivateKey(material: string, keyId?: string): Promise<{ key: CryptoKey; kid?: string }> {
  const jwk = parsePrivateKey(material.trim());
  const alg = jwk.alg ?? algorithmFor(jwk);
  try {
    const key = (await importJWK(jwk, alg)) as CryptoKey;
    return { key, kid: keyId || jwk.kid };
  } catch (err) {
    throw new StallError('InvalidConfiguration', `Secret key "privateKey" could not be used to sign with ${alg}: ${(err as Error).message}`);
  }
}

function parsePrivateKey(material: string): JWK {
  let jwk: JWK | undefined;
  if (material.startsWith('{')) {
    try {
      const parsed = JSON.parse(material) as JWK & { keys?: JWK[] };
      jwk = Array.isArray(parsed.keys) && parsed.keys.length === 1 ? parsed.keys[0] : parsed;
    } catch {
      jwk = undefined;
    }
  } else if (material.startsWith('-----BEGIN')) {
    try {
      jwk = createPrivateKey(material).export({ format: 'jwk' }) as JWK;
    } catch {
      jwk = undefined;
    }
  }
  if (!jwk || typeof jwk.kty !== 'string' || typeof jwk.d !== 'string') {
    throw new StallError(
      'InvalidConfiguration',
      'Secret key "privateKey" is neither a PEM private key nor a private JWK (JSON with "kty" and "d"); a public key will not do',
    );
  }
  return jwk;
}

function algorithmFor(jwk: JWK): string {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ES384';
  if (jwk.kty === 'EC' && jwk.crv === 'P-521') return 'ES512';
  throw new StallError(
    'InvalidConfiguration',
    `Secret key "privateKey" is a ${jwk.kty}${jwk.crv ? ` ${jwk.crv}` : ''} key; Okta accepts RSA or EC (P-256, P-384, P-521) keys`,
  );
}

/** Scopes Okta names in an error description, e.g. "… not allowed: okta.groups.read". */
export function scopesNamedIn(text: string | undefined, requested: string[]): string[] {
  if (!text) return [];
  return requested.filter((scope) => text.includes(scope));
}

function oktaSaid(err: unknown): string {
  return err instanceof oidc.ResponseBodyError ? `${err.error}${err.error_description ? `: ${err.error_description}` : ''}` : String(err);
}

function scopeDenied(missing: string[], said: string, cause?: unknown): StallError {
  const plural = missing.length > 1;
  return new StallError(
    'AccessDenied',
    `Okta refused the scope${plural ? 's' : ''} ${missing.join(', ')} (${said}). Grant ${plural ? 'them' : 'it'} on the service app's "Okta API Scopes" tab.`,
    { missingPermission: missing.join(' '), cause },
  );
}

/** Maps a failed token request to a typed error: the shared rule, with Okta's own reading of its OAuth errors. */
export function tokenError(err: unknown, scopes: string[], clientId: string, tokenUrl: string, now?: () => number): IdpSyncError {
  return tokenEndpointError(err, {
    idpName: 'Okta',
    tokenUrl,
    now,
    credentialsHint:
      `Check that spec.provider.okta.clientId (${clientId}) is the client ID of the API service app and that the public key ` +
      `registered on that app (Client Credentials: Public key / Private key) matches the Secret's privateKey (and keyId, if set).`,
    refine: (refusal) => {
      switch (refusal.error) {
        case 'invalid_scope': {
          const named = scopesNamedIn(refusal.description, scopes);
          return scopeDenied(named.length > 0 ? named : scopes, refusal.said, err);
        }
        case 'invalid_dpop_proof':
        case 'use_dpop_nonce':
          return new StallError(
            'InvalidConfiguration',
            `Okta requires DPoP for this service app (${refusal.said}), which idpsync does not support; clear "Require Demonstrating ` +
              `Proof of Possession (DPoP) header in token requests" in the app's General Settings.`,
          );
        case 'unauthorized_client':
          return new StallError(
            'InvalidCredentials',
            `Okta refused the client credentials grant (${refusal.said}). Client ${clientId} must be an "API Services" app with the Client Credentials grant.`,
          );
        default:
          return undefined;
      }
    },
  });
}
