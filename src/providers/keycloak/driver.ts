// Keycloak driver: the Admin REST API of one realm, read with a confidential client's service account.
import { requireSettings } from '../context.js';
import type { Static } from '@sinclair/typebox';
import type { KeycloakSettings as KeycloakSettingsSchema } from '../../api/v1alpha1/directorysync.js';
import { StallError } from '../../errors.js';
import { IdpHttpClient, readWhole } from '../http.js';
import { checkUrlPolicy } from '../../util/http.js';
import { TokenCache } from '../token.js';
import { verifyOptions, type DriverContext, type DriverFactory, type FetchOptions, type ProviderDriver, type VerifyOptions, type VerifyResult } from '../types.js';
import { type DirectorySnapshot } from '../../directory/snapshot.js';
import { KeycloakApi } from './api.js';
import { createTokenIssuer, endpoints } from './auth.js';
import { readRealm } from './directory.js';
import { verifyKeycloak } from './verify.js';

/** spec.provider.keycloak */
export type KeycloakSettings = Static<typeof KeycloakSettingsSchema>;

export interface KeycloakDriverOptions {
  /** Rows per request (at least 2); Keycloak's default 100 unless a test wants many pages. */
  pageSize?: number;
}

/** Keycloak's error bodies: {"error":"…","error_description":"…"} or {"errorMessage":"…"}. */
export function errorText(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  if (typeof body !== 'object' || body === null) return undefined;
  const { error, error_description: description, errorMessage } = body as Record<string, unknown>;
  const parts = [error, description, errorMessage].filter((p): p is string => typeof p === 'string' && p !== '');
  return parts.length > 0 ? parts.join(': ') : undefined;
}

export const createKeycloakDriver: DriverFactory<KeycloakSettings> = (ctx) => new KeycloakDriver(ctx);

export class KeycloakDriver implements ProviderDriver {
  readonly type = 'keycloak';
  private readonly http: IdpHttpClient;
  private readonly tokens: TokenCache;
  private readonly api: KeycloakApi;
  private readonly tokenUrl: string;

  constructor(ctx: DriverContext<KeycloakSettings>, options: KeycloakDriverOptions = {}) {
    const { settings, credentials } = ctx;
    requireSettings('keycloak', settings, ['baseUrl', 'realm', 'clientId']);
    const clientSecret = credentials.clientSecret?.trim();
    if (!clientSecret) {
      throw new StallError('InvalidConfiguration', 'the Secret has no "clientSecret" (the Keycloak client\'s secret, from its Credentials tab)');
    }
    const base = checkUrlPolicy(settings.baseUrl, ctx.allowInsecureLoopback, 'Keycloak base URL');
    const urls = endpoints(base, settings.realm);
    this.tokenUrl = urls.tokenUrl.href;
    this.http = new IdpHttpClient({
      idpName: 'Keycloak',
      caBundle: ctx.caBundle,
      allowInsecureLoopback: ctx.allowInsecureLoopback,
      errorText,
      now: ctx.now,
      sleep: ctx.sleep,
      rateLimits: ctx.rateLimits,
    });
    const issue = createTokenIssuer(
      urls,
      { clientId: settings.clientId, clientSecret, allowInsecureLoopback: ctx.allowInsecureLoopback, now: ctx.now },
      this.http,
    );
    this.tokens = new TokenCache(issue, ctx.now);
    this.api = new KeycloakApi(this.http, this.tokens, { adminBase: urls.adminBase, clientId: settings.clientId, pageSize: options.pageSize });
  }

  fetch(options: FetchOptions): Promise<DirectorySnapshot> {
    return readWhole(this.http, options.signal, (signal) => readRealm(this.api, signal));
  }

  verify(options?: VerifyOptions | AbortSignal): Promise<VerifyResult> {
    return verifyKeycloak(this.api, this.tokens, this.tokenUrl, verifyOptions(options).signal);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
