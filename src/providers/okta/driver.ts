// The Okta driver: settings and Secret in, complete directory snapshots out.
import type { Static } from '@sinclair/typebox';
import type { OktaSettings as OktaSettingsSchema } from '../../api/v1alpha1/directorysync.js';
import { StallError } from '../../errors.js';
import { IdpHttpClient, readWhole } from '../http.js';
import { checkUrlPolicy } from '../../util/http.js';
import { verifyOptions, type DriverContext, type DriverFactory, type FetchOptions, type ProviderDriver, type VerifyOptions, type VerifyResult } from '../types.js';
import { type DirectorySnapshot } from '../../directory/snapshot.js';
import { OktaApi, type OktaScope } from './api.js';
import { ApiTokenAuthorizer, OAuthAuthorizer, type OktaAuthorizer } from './auth.js';
import { readApp } from './directory.js';
import { readOrgPicture, type OrgPicture } from './incremental.js';
import { classify, errorText, pauseFromHeaders } from './responses.js';
import { verifyOkta } from './verify.js';

/** spec.provider.okta */
export type OktaSettings = Static<typeof OktaSettingsSchema>;

/** Requests in flight at once: enough to hide latency, few enough to leave the org's rate limits to others. */
const CONCURRENCY = 4;

export function scopesFor(settings: Pick<OktaSettings, 'appId'>): OktaScope[] {
  return settings.appId ? ['okta.users.read', 'okta.groups.read', 'okta.apps.read'] : ['okta.users.read', 'okta.groups.read'];
}

export const createOktaDriver: DriverFactory<OktaSettings> = (ctx: DriverContext<OktaSettings>): ProviderDriver => new OktaDriver(ctx);

class OktaDriver implements ProviderDriver {
  readonly type = 'okta';
  private readonly http: IdpHttpClient;
  private readonly api: OktaApi;
  private readonly oauth?: OAuthAuthorizer;
  private readonly scopes: OktaScope[];
  private readonly now: () => number;
  /** The last complete picture of the org, continued incrementally (whole-org mode only; see incremental.ts). */
  private picture?: OrgPicture;

  constructor(private readonly ctx: DriverContext<OktaSettings>) {
    const { settings, credentials } = ctx;
    if (!settings?.domain && !settings?.baseUrl) {
      throw new StallError('InvalidConfiguration', 'spec.provider.okta.domain is required');
    }
    const baseUrl = checkUrlPolicy(settings.baseUrl ?? `https://${settings.domain}`, ctx.allowInsecureLoopback, 'Okta base URL');
    const now = ctx.now ?? Date.now;
    this.now = now;
    this.http = new IdpHttpClient({
      idpName: 'Okta',
      caBundle: ctx.caBundle,
      allowInsecureLoopback: ctx.allowInsecureLoopback,
      concurrency: CONCURRENCY,
      pauseFromHeaders: (headers, now) => pauseFromHeaders(headers, now, CONCURRENCY),
      errorText,
      classify: (status, body, headers, where) => classify(status, body, headers, where, now()),
      now: ctx.now,
      sleep: ctx.sleep,
      rateLimits: ctx.rateLimits,
    });
    this.scopes = scopesFor(settings);

    let auth: OktaAuthorizer;
    if (credentials.privateKey) {
      if (!settings.clientId) throw new StallError('InvalidConfiguration', 'spec.provider.okta.clientId is required with a privateKey');
      this.oauth = new OAuthAuthorizer(
        { baseUrl, clientId: settings.clientId, keyId: settings.keyId, scopes: this.scopes, allowInsecureLoopback: ctx.allowInsecureLoopback, now },
        credentials.privateKey,
        this.http,
      );
      auth = this.oauth;
    } else if (credentials.apiToken) {
      auth = new ApiTokenAuthorizer(credentials.apiToken.trim());
    } else {
      throw new StallError(
        'InvalidConfiguration',
        'the Secret has neither "privateKey" (private key of the Okta API service app) nor "apiToken" (an Okta API token)',
      );
    }
    this.api = new OktaApi(this.http, auth, baseUrl, this.oauth ? 'service app' : 'API token');
  }

  async fetch(options: FetchOptions): Promise<DirectorySnapshot> {
    const appId = this.ctx.settings.appId;
    if (appId) return readWhole(this.http, options.signal, (signal) => readApp(this.api, appId, signal));
    const read = await readWhole(this.http, options.signal, (signal) => readOrgPicture(this.api, options.complete ? undefined : this.picture, this.now(), signal));
    this.picture = read.picture;
    return {
      users: read.users,
      groups: read.groups,
      apiCalls: read.apiCalls,
      cursor: { read: read.full ? 'full' : 'incremental', usersChangedSince: new Date(read.picture.readStartedAt).toISOString(), fullReadAt: new Date(read.picture.fullReadAt).toISOString() },
    };
  }

  verify(options?: VerifyOptions | AbortSignal): Promise<VerifyResult> {
    return verifyOkta(this.api, this.oauth, this.scopes, this.ctx.settings.appId, verifyOptions(options).signal);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
