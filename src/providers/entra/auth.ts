// Client-credentials tokens from the Microsoft identity platform, with a client secret or a
// certificate (private_key_jwt), and the mapping of AADSTS errors to what an operator must fix.
import { createHash, createPrivateKey, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import * as oidc from 'openid-client';
import { StallError, type IdpSyncError } from '../../errors.js';
import { tokenEndpointError } from '../oauth-errors.js';
import type { IdpHttpClient } from '../http.js';
import type { IssuedToken } from '../token.js';
import type { EntraConfig } from './config.js';

/** Where in the Secret each credential lives. */
export const SECRET_KEYS = { clientSecret: 'clientSecret', certificate: 'certificate', privateKey: 'privateKey' } as const;

export interface CertificateThumbprints {
  /** base64url SHA-256 of the DER certificate (JOSE header x5t#S256). */
  sha256: string;
  /** base64url SHA-1 of the DER certificate (JOSE header x5t), still read by older tenants. */
  sha1: string;
}

export function certificateThumbprints(certificatePem: string): CertificateThumbprints {
  const der = new X509Certificate(certificatePem).raw;
  return {
    sha256: createHash('sha256').update(der).digest('base64url'),
    sha1: createHash('sha1').update(der).digest('base64url'),
  };
}

/** Chooses client authentication from the Secret: a client secret, or a certificate and its private key. */
export async function clientAuthentication(config: EntraConfig, credentials: Record<string, string>): Promise<oidc.ClientAuth> {
  const secret = credentials[SECRET_KEYS.clientSecret];
  const certificate = credentials[SECRET_KEYS.certificate];
  const privateKey = credentials[SECRET_KEYS.privateKey];
  if (certificate || privateKey) {
    if (!certificate || !privateKey) {
      throw new StallError(
        'InvalidConfiguration',
        'Entra: certificate authentication needs both Secret keys "certificate" and "privateKey" (PEM)',
      );
    }
    return certificateAuthentication(config, certificate, privateKey);
  }
  if (secret) return oidc.ClientSecretPost(secret);
  throw new StallError(
    'InvalidConfiguration',
    'Entra: the Secret has neither "clientSecret" nor "certificate" and "privateKey"',
  );
}

async function certificateAuthentication(config: EntraConfig, certificatePem: string, keyPem: string): Promise<oidc.ClientAuth> {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch {
    throw new StallError('InvalidConfiguration', 'Entra: Secret key "certificate" is not a PEM X.509 certificate');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new StallError('InvalidConfiguration', 'Entra: Secret key "privateKey" is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new StallError('InvalidConfiguration', 'Entra: Secret key "privateKey" must be an RSA key (Entra signs with PS256)');
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new StallError('InvalidConfiguration', 'Entra: Secret keys "certificate" and "privateKey" do not belong together');
  }
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    key.export({ format: 'der', type: 'pkcs8' }),
    { name: 'RSA-PSS', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const thumbprints = certificateThumbprints(certificatePem);
  return oidc.PrivateKeyJwt(signingKey as CryptoKey, {
    [oidc.modifyAssertion]: (header, payload) => {
      header.typ = 'JWT';
      header['x5t#S256'] = thumbprints.sha256;
      header.x5t = thumbprints.sha1;
      // Entra expects the token endpoint itself as the audience, not the issuer.
      payload.aud = config.tokenEndpoint;
    },
  });
}

/** Issues tokens with the client-credentials grant; every request goes through the counting client. */
export async function createTokenIssuer(
  config: EntraConfig,
  credentials: Record<string, string>,
  http: IdpHttpClient,
  now: () => number = Date.now,
): Promise<() => Promise<IssuedToken>> {
  const auth = await clientAuthentication(config, credentials);
  const server: oidc.ServerMetadata = { issuer: config.issuer, token_endpoint: config.tokenEndpoint };
  const oauth = new oidc.Configuration(server, config.clientId, {}, auth);
  oauth[oidc.customFetch] = http.fetch as unknown as oidc.CustomFetch;
  if (config.insecureLogin) oidc.allowInsecureRequests(oauth);
  return async () => {
    try {
      const token = await oidc.clientCredentialsGrant(oauth, { scope: config.scope });
      return { accessToken: token.access_token, expiresIn: token.expires_in };
    } catch (err) {
      throw tokenError(err, config, now());
    }
  };
}

// AADSTS codes whose fix is a different credential rather than a different configuration.
const CREDENTIAL_CODES = new Set([
  7000215, // invalid client secret
  7000222, // client secret expired
  700027, // client assertion signature invalid or certificate not registered
  700024, // client assertion outside its validity window
  7000112, // application disabled
]);

/** First line of an AADSTS description: the code and its explanation, without trace and correlation ids. */
export function aadstsText(description: string | undefined): string | undefined {
  const first = description?.split(/\r?\n/)[0]?.trim();
  return first ? first.replace(/\s*Trace ID:.*$/, '') : undefined;
}

export function aadstsCode(body: { error_codes?: unknown; error_description?: unknown }): number | undefined {
  if (Array.isArray(body.error_codes) && typeof body.error_codes[0] === 'number') return body.error_codes[0];
  const match = /AADSTS(\d+)/.exec(String(body.error_description ?? ''));
  return match ? Number(match[1]) : undefined;
}

/** Maps a token endpoint failure to a typed error: the shared rule, with the AADSTS codes read as Entra means them. */
export function tokenError(err: unknown, config: EntraConfig, now: number): IdpSyncError {
  return tokenEndpointError(err, {
    idpName: 'Entra',
    tokenUrl: config.tokenEndpoint,
    now: () => now,
    refine: (refusal) => {
      const code = aadstsCode(refusal.body);
      const message = `Entra: token request to ${config.tokenEndpoint} failed: ${aadstsText(refusal.description) ?? refusal.error}`;
      if ((code !== undefined && CREDENTIAL_CODES.has(code)) || (code === undefined && refusal.error === 'invalid_client')) {
        return new StallError('InvalidCredentials', message);
      }
      // Any other AADSTS code names a tenant, app or consent to fix, not a credential.
      return code !== undefined ? new StallError('InvalidConfiguration', message) : undefined;
    },
  });
}
