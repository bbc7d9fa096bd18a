// Auth0 driver: the Management API v2 of one tenant, read with a Machine to Machine application.
import { requireSettings } from '../context.js';
import type { Static } from '@sinclair/typebox';
import type { Auth0Settings as Auth0SettingsSchema } from '../../api/v1alpha1/directorysync.js';
import { StallError } from '../../errors.js';
import { IdpHttpClient, readWhole } from '../http.js';
import { checkUrlPolicy } from '../../util/http.js';
import { TokenCache } from '../token.js';
import { verifyOptions, type DriverContext, type DriverFactory, type FetchOptions, type ProviderDriver, type VerifyOptions, type VerifyResult } from '../types.js';
import { type DirectorySnapshot } from '../../directory/snapshot.js';
import { Auth0Api } from './api.js';
import { createTokenIssuer, endpoints } from './auth.js';
import { readTenant, type GroupSource } from './directory.js';
import { classify, errorText, pauseFromHeaders } from './responses.js';
import { verifyAuth0 } from './verify.js';

/** spec.provider.auth0 */
export type Auth0Settings = Static<typeof Auth0SettingsSchema>;

/** Requests in flight at once: Auth0's Management API buckets are small (a few requests per second on many plans). */
const CONCURRENCY = 4;

export interface Auth0DriverOptions {
  /** Rows per request (2 to 100); Auth0's maximum 100 unless a test wants many pages. */
  pageSize?: number;
}

export const createAuth0Driver: DriverFactory<Auth0Settings> = (ctx) => new Auth0Driver(ctx);

export class Auth0Driver implements ProviderDriver {
  readonly type = 'auth0';
  private readonly http: IdpHttpClient;
  private readonly tokens: TokenCache;
  private readonly api: Auth0Api;
  private readonly tokenUrl: string;
  private readonly groupsFrom: readonly GroupSource[];

  constructor(ctx: DriverContext<Auth0Settings>, options: Auth0DriverOptions = {}) {
    const { settings, credentials } = ctx;
    requireSettings('auth0', settings, ['domain', 'clientId']);
    const clientSecret = credentials.clientSecret?.trim();
    if (!clientSecret) {
      throw new StallError('InvalidConfiguration', 'the Secret has no "clientSecret" (the Auth0 application\'s Client Secret, from its Settings tab)');
    }
    const base = checkUrlPolicy(settings.baseUrl ?? `https://${settings.domain}`, ctx.allowInsecureLoopback, 'Auth0 base URL');
    const urls = endpoints(base, settings.domain, settings.audience);
    this.tokenUrl = urls.tokenUrl.href;
    this.groupsFrom = [...new Set(settings.groupsFrom ?? ['roles'])];
    const now = ctx.now ?? Date.now;
    this.http = new IdpHttpClient({
      idpName: 'Auth0',
      caBundle: ctx.caBundle,
      allowInsecureLoopback: ctx.allowInsecureLoopback,
      concurrency: CONCURRENCY,
      errorText,
      classify: (status, body, headers, where) => classify(status, body, headers, where, now()),
      pauseFromHeaders: (headers, at) => pauseFromHeaders(headers, at, CONCURRENCY),
      now: ctx.now,
      sleep: ctx.sleep,
      rateLimits: ctx.rateLimits,
    });
    const issue = createTokenIssuer(urls, { clientId: settings.clientId, clientSecret, allowInsecureLoopback: ctx.allowInsecureLoopback, now: ctx.now }, this.http);
    this.tokens = new TokenCache(issue, ctx.now);
    this.api = new Auth0Api(this.http, this.tokens, { apiBase: urls.apiBase, pageSize: options.pageSize });
  }

  fetch(options: FetchOptions): Promise<DirectorySnapshot> {
    return readWhole(this.http, options.signal, (signal) => readTenant(this.api, this.groupsFrom, signal));
  }

  verify(options?: VerifyOptions | AbortSignal): Promise<VerifyResult> {
    return verifyAuth0(this.api, this.tokens, this.tokenUrl, this.groupsFrom, verifyOptions(options).signal);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
