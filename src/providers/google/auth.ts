// How the driver gets an access token: a service account acting for an admin through domain-wide
// delegation. It signs a JWT naming the admin (sub) and the scopes, and trades it at Google's token
// endpoint with the JWT bearer grant (RFC 7523).
import * as oidc from 'openid-client';
import { importPKCS8, SignJWT } from 'jose';
import { StallError, type IdpSyncError } from '../../errors.js';
import { tokenEndpointError } from '../oauth-errors.js';
import { type IdpHttpClient } from '../http.js';
import type { IssuedToken } from '../token.js';
import { tokenClient } from '../oauth-client.js';

export const DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google refuses assertions that live longer than an hour. */
const ASSERTION_LIFETIME_S = 3600;

/** The fields of a service account JSON key file that the driver uses. */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id: string;
  client_id?: string;
  token_uri?: string;
}

/** Reads the Secret's serviceAccountKey. Messages name missing fields, never their values. */
export function parseServiceAccountKey(text: string | undefined): ServiceAccountKey {
  if (!text || text.trim() === '') {
    throw new StallError('InvalidConfiguration', 'the Secret has no "serviceAccountKey" (the service account\'s JSON key file)');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StallError('InvalidConfiguration', 'Secret key "serviceAccountKey" is not JSON; it must hold the service account\'s JSON key file');
  }
  const key = parsed as Record<string, unknown>;
  if (typeof key !== 'object' || key === null) {
    throw new StallError('InvalidConfiguration', 'Secret key "serviceAccountKey" must be a JSON object (the service account key file)');
  }
  if (key.type !== undefined && key.type !== 'service_account') {
    throw new StallError(
      'InvalidConfiguration',
      `Secret key "serviceAccountKey" is a "${String(key.type)}" credential; create a key for a service account (type "service_account")`,
    );
  }
  const missing = ['client_email', 'private_key', 'private_key_id'].filter((f) => typeof key[f] !== 'string' || key[f] === '');
  if (missing.length > 0) {
    throw new StallError('InvalidConfiguration', `Secret key "serviceAccountKey" lacks ${missing.join(', ')}; use the JSON key file as Google downloads it`);
  }
  return key as unknown as ServiceAccountKey;
}

export interface AssertionClaims {
  serviceAccount: string;
  subject: string;
  scopes: string[];
  audience: string;
  keyId: string;
  /** Seconds since the epoch. */
  issuedAt: number;
}

export async function signAssertion(claims: AssertionClaims, key: CryptoKey): Promise<string> {
  return new SignJWT({ scope: claims.scopes.join(' ') })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: claims.keyId })
    .setIssuer(claims.serviceAccount)
    .setSubject(claims.subject)
    .setAudience(claims.audience)
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(claims.issuedAt + ASSERTION_LIFETIME_S)
    .sign(key);
}

export interface DelegationSettings {
  key: ServiceAccountKey;
  /** Admin the service account acts as. */
  impersonate: string;
  tokenUrl: URL;
  allowInsecureLoopback?: boolean;
  now: () => number;
}

export class DelegatedTokenIssuer {
  private signingKey?: Promise<CryptoKey>;
  private config?: oidc.Configuration;

  constructor(
    private readonly settings: DelegationSettings,
    private readonly http: IdpHttpClient,
  ) {}

  get tokenUrl(): string {
    return this.settings.tokenUrl.href;
  }

  /**
   * Asks Google for a token carrying exactly these scopes. When Google refuses the delegation it
   * does not say which scope is missing, so each scope is then tried alone to name the ones to authorise.
   */
  async issue(scopes: string[]): Promise<IssuedToken> {
    const ctx = {
      scopes,
      refused: scopes,
      serviceAccount: this.settings.key.client_email,
      clientId: this.settings.key.client_id,
      impersonate: this.settings.impersonate,
      tokenUrl: this.settings.tokenUrl.href,
      now: this.settings.now,
    };
    try {
      return await this.grant(scopes);
    } catch (err) {
      if (!isDelegationRefusal(err) || scopes.length === 1) throw tokenError(err, ctx);
      const refused: string[] = [];
      for (const scope of scopes) {
        try {
          await this.grant([scope]);
        } catch (probeErr) {
          if (!isDelegationRefusal(probeErr)) throw tokenError(probeErr, ctx);
          refused.push(scope);
        }
      }
      throw tokenError(err, { ...ctx, refused: refused.length > 0 ? refused : scopes });
    }
  }

  private async grant(scopes: string[]): Promise<IssuedToken> {
    const { key, impersonate, tokenUrl, now } = this.settings;
    const assertion = await signAssertion(
      {
        serviceAccount: key.client_email,
        subject: impersonate,
        scopes,
        audience: tokenUrl.href,
        keyId: key.private_key_id,
        issuedAt: Math.floor(now() / 1000),
      },
      await this.privateKey(),
    );
    const res = await oidc.genericGrantRequest(this.configuration(), JWT_BEARER, { assertion });
    return { accessToken: res.access_token, expiresIn: res.expires_in };
  }

  private privateKey(): Promise<CryptoKey> {
    this.signingKey ??= importPKCS8(this.settings.key.private_key, 'RS256').catch(() => {
      throw new StallError(
        'InvalidConfiguration',
        'the private_key in Secret key "serviceAccountKey" is not a PKCS#8 RSA private key; use the JSON key file as Google downloads it',
      );
    });
    return this.signingKey;
  }

  private configuration(): oidc.Configuration {
    if (this.config) return this.config;
    const { key, tokenUrl, allowInsecureLoopback } = this.settings;
    // No discovery: Google's token endpoint is fixed, and the client proves itself with the assertion.
    const config = tokenClient({ issuer: 'https://accounts.google.com', tokenUrl, allowInsecureLoopback }, key.client_id ?? key.client_email, oidc.None(), this.http);
    this.config = config;
    return config;
  }
}

interface TokenRequestContext {
  /** Every scope the request asked for. */
  scopes: string[];
  /** The ones Google would not delegate (all of them when unknown). */
  refused: string[];
  serviceAccount: string;
  clientId?: string;
  impersonate: string;
  tokenUrl: string;
  now?: () => number;
}

function isDelegationRefusal(err: unknown): boolean {
  return err instanceof oidc.ResponseBodyError && err.error === 'unauthorized_client' && err.status < 500;
}

/** Maps a failed token request to a typed error: the shared rule, with Google's own reading of a refused delegation. */
export function tokenError(err: unknown, ctx: TokenRequestContext): IdpSyncError {
  return tokenEndpointError(err, {
    idpName: 'Google',
    tokenUrl: ctx.tokenUrl,
    now: ctx.now,
    credentialsHint:
      `Check that Secret key "serviceAccountKey" is a current key of ${ctx.serviceAccount}, that the service account exists, ` +
      `and that ${ctx.impersonate} (spec.provider.googleWorkspace.impersonate) is a user of the Workspace account.`,
    refine: (refusal) => {
      // Google answers unauthorized_client when domain-wide delegation does not cover a scope: the
      // credentials are fine, the grant is missing.
      if (refusal.error !== 'unauthorized_client') return undefined;
      return new StallError(
        'AccessDenied',
        `Google refused to delegate to service account ${ctx.serviceAccount} (${refusal.said}): domain-wide delegation does not cover ` +
          `${ctx.refused.join(', ')}. In the Admin console, under Security › Access and data control › API controls › ` +
          `Manage domain-wide delegation, authorise client ID ${ctx.clientId ?? `of ${ctx.serviceAccount}`} for these scopes: ` +
          ctx.scopes.join(','),
        { missingPermission: ctx.refused.join(' ') },
      );
    },
  });
}
