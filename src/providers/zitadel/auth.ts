// How the driver authenticates as a Zitadel service user: either the JWT profile grant (RFC 7523)
// with an assertion signed by the service user's key, or a personal access token sent as it is.
// Tokens for Zitadel's own APIs must carry the API in their audience, which the scope
// urn:zitadel:iam:org:project:id:zitadel:aud asks for; without it every API call answers 401.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import * as oidc from 'openid-client';
import { SignJWT } from 'jose';
import { StallError, type IdpSyncError } from '../../errors.js';
import { type IdpHttpClient } from '../http.js';
import { tokenEndpointError } from '../oauth-errors.js';
import { TokenCache, type IssuedToken } from '../token.js';
import { tokenClient } from '../oauth-client.js';

export const API_AUDIENCE_SCOPE = 'urn:zitadel:iam:org:project:id:zitadel:aud';
export const DEFAULT_SCOPE = `openid ${API_AUDIENCE_SCOPE}`;
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Zitadel accepts assertions up to an hour old; a short life keeps a leaked one nearly worthless. */
const ASSERTION_LIFETIME_S = 300;

/** The fields of a service user's JSON key file ("type": "serviceaccount") that the driver uses. */
export interface ServiceUserKey {
  keyId: string;
  /** PEM private key (PKCS#1 "RSA PRIVATE KEY" as Zitadel writes it, or PKCS#8). */
  key: string;
  userId: string;
}

/** Where access tokens come from: both forms refresh (or fail) the same way on a 401. */
export interface AccessTokens {
  get(forceRefresh?: boolean): Promise<string>;
  withToken<T>(call: (token: string) => Promise<T>): Promise<T>;
  /** "keyFile" or "token", for messages. */
  readonly form: 'keyFile' | 'token';
}

/** Reads the Secret: exactly one of keyFile and token. Messages name keys and fields, never values. */
export function readCredentials(credentials: Record<string, string>): { keyFile: ServiceUserKey } | { token: string } {
  const keyFile = credentials.keyFile?.trim();
  const token = credentials.token?.trim();
  if (keyFile && token) {
    throw new StallError(
      'InvalidConfiguration',
      'the Secret has both "keyFile" and "token"; keep exactly one (the service user\'s JSON key file, or a personal access token)',
    );
  }
  if (token) return { token };
  if (keyFile) return { keyFile: parseKeyFile(keyFile) };
  throw new StallError(
    'InvalidConfiguration',
    'the Secret has neither "keyFile" (the service user\'s JSON key file) nor "token" (a personal access token of the service user); set exactly one',
  );
}

export function parseKeyFile(text: string): ServiceUserKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StallError('InvalidConfiguration', 'Secret key "keyFile" is not JSON; it must hold the service user\'s key file as Zitadel downloads it');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new StallError('InvalidConfiguration', 'Secret key "keyFile" must be a JSON object (the service user\'s key file)');
  }
  const file = parsed as Record<string, unknown>;
  if (file.type === 'application') {
    throw new StallError(
      'InvalidConfiguration',
      'Secret key "keyFile" holds the key of an API application ("type": "application"), which only authenticates ' +
        'token introspection; create a key for a service user (Users › Service Users › Keys, "type": "serviceaccount")',
    );
  }
  if (file.type !== undefined && file.type !== 'serviceaccount') {
    throw new StallError('InvalidConfiguration', `Secret key "keyFile" is a "${String(file.type)}" key; it must be a service user's key ("type": "serviceaccount")`);
  }
  const missing = ['keyId', 'key', 'userId'].filter((f) => typeof file[f] !== 'string' || file[f] === '');
  if (missing.length > 0) {
    throw new StallError('InvalidConfiguration', `Secret key "keyFile" lacks ${missing.join(', ')}; use the key file as Zitadel downloads it`);
  }
  return { keyId: file.keyId as string, key: file.key as string, userId: file.userId as string };
}

/** A personal access token: nothing to issue, and nothing a refresh could change. */
export class PersonalAccessToken implements AccessTokens {
  readonly form = 'token';
  constructor(private readonly token: string) {}
  async get(): Promise<string> {
    return this.token;
  }
  withToken<T>(call: (token: string) => Promise<T>): Promise<T> {
    return call(this.token);
  }
}

/** Tokens of the JWT profile grant, cached until shortly before they expire. */
export class JwtProfileTokens extends TokenCache implements AccessTokens {
  readonly form = 'keyFile';
}

export interface JwtProfileSettings {
  key: ServiceUserKey;
  /** The instance URL: the issuer the assertion is addressed to, and the token endpoint's base. */
  issuer: string;
  tokenUrl: URL;
  scope?: string;
  allowInsecureLoopback?: boolean;
  now: () => number;
}

/** The instance's token endpoint under a URL that may carry a path (Zitadel behind a proxy prefix). */
export function tokenUrlOf(base: URL): URL {
  return new URL(`${issuerOf(base)}/oauth/v2/token`);
}

/** Zitadel's issuer is the instance URL without a trailing slash. */
export function issuerOf(base: URL): string {
  return base.href.replace(/\/+$/, '');
}

export function createJwtProfileIssuer(settings: JwtProfileSettings, http: IdpHttpClient): () => Promise<IssuedToken> {
  let signingKey: KeyObject | undefined;
  const config = tokenClient(settings, settings.key.userId, oidc.None(), http);

  return async () => {
    signingKey ??= privateKey(settings.key.key);
    const issuedAt = Math.floor(settings.now() / 1000);
    // The service user asserts itself: iss and sub are its id; the audience is the instance.
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: settings.key.keyId })
      .setIssuer(settings.key.userId)
      .setSubject(settings.key.userId)
      .setAudience(settings.issuer)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_S)
      .sign(signingKey);
    try {
      const token = await oidc.genericGrantRequest(config, JWT_BEARER, { assertion, scope: settings.scope ?? DEFAULT_SCOPE });
      return { accessToken: token.access_token, expiresIn: token.expires_in };
    } catch (err) {
      throw tokenError(err, settings.tokenUrl.href, settings.key, settings.now);
    }
  };
}

function privateKey(pem: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    return key;
  } catch {
    throw new StallError('InvalidConfiguration', 'the "key" in Secret key "keyFile" is not a PEM RSA private key; use the key file as Zitadel downloads it');
  }
}

/** The shared rule, with what to check when Zitadel will not take the service user's assertion. */
export function tokenError(err: unknown, tokenUrl: string, key: ServiceUserKey, now?: () => number): IdpSyncError {
  return tokenEndpointError(err, {
    idpName: 'Zitadel',
    tokenUrl,
    now,
    credentialsHint:
      `Check that key ${key.keyId} of service user ${key.userId} (Secret key "keyFile") still exists and has not expired, ` +
      'that the service user is active, and that spec.provider.zitadel.baseUrl is the instance\'s own domain (the audience of the assertion).',
  });
}
