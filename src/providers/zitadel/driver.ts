// Zitadel driver: the people of one organisation (user service v2) and the roles of one project,
// whose user grants say who holds them, read as a service user (JWT profile key or personal access token).
import { requireSettings } from '../context.js';
import type { Static } from '@sinclair/typebox';
import type { ZitadelSettings as ZitadelSettingsSchema } from '../../api/v1alpha1/directorysync.js';
import { IdpHttpClient, readWhole } from '../http.js';
import { checkUrlPolicy } from '../../util/http.js';
import { verifyOptions, type DriverContext, type DriverFactory, type FetchOptions, type ProviderDriver, type VerifyOptions, type VerifyResult } from '../types.js';
import { type DirectorySnapshot } from '../../directory/snapshot.js';
import { ZitadelApi, errorText } from './api.js';
import { createJwtProfileIssuer, issuerOf, JwtProfileTokens, PersonalAccessToken, readCredentials, tokenUrlOf, type AccessTokens } from './auth.js';
import { readOrganisation } from './directory.js';
import { verifyZitadel } from './verify.js';

/** spec.provider.zitadel */
export type ZitadelSettings = Static<typeof ZitadelSettingsSchema>;

export interface ZitadelDriverOptions {
  /** The scope of the JWT profile grant; only tests that show what a token without the API audience does change it. */
  scope?: string;
}

export const createZitadelDriver: DriverFactory<ZitadelSettings> = (ctx) => new ZitadelDriver(ctx);

export class ZitadelDriver implements ProviderDriver {
  readonly type = 'zitadel';
  private readonly http: IdpHttpClient;
  private readonly tokens: AccessTokens;
  private readonly api: ZitadelApi;
  private readonly tokenUrl: string;

  constructor(ctx: DriverContext<ZitadelSettings>, options: ZitadelDriverOptions = {}) {
    const { settings } = ctx;
    requireSettings('zitadel', settings, ['baseUrl', 'projectId']);
    const credentials = readCredentials(ctx.credentials);
    const base = checkUrlPolicy(settings.baseUrl, ctx.allowInsecureLoopback, 'Zitadel base URL');
    this.tokenUrl = tokenUrlOf(base).href;
    this.http = new IdpHttpClient({
      idpName: 'Zitadel',
      caBundle: ctx.caBundle,
      allowInsecureLoopback: ctx.allowInsecureLoopback,
      errorText,
      now: ctx.now,
      sleep: ctx.sleep,
      rateLimits: ctx.rateLimits,
    });
    if ('token' in credentials) {
      this.tokens = new PersonalAccessToken(credentials.token);
    } else {
      const issue = createJwtProfileIssuer(
        {
          key: credentials.keyFile,
          issuer: issuerOf(base),
          tokenUrl: new URL(this.tokenUrl),
          scope: options.scope,
          allowInsecureLoopback: ctx.allowInsecureLoopback,
          now: ctx.now ?? Date.now,
        },
        this.http,
      );
      this.tokens = new JwtProfileTokens(issue, ctx.now);
    }
    this.api = new ZitadelApi(this.http, this.tokens, {
      base,
      projectId: settings.projectId,
      organizationId: settings.organizationId,
      pageSize: settings.pageSize,
    });
  }

  fetch(options: FetchOptions): Promise<DirectorySnapshot> {
    return readWhole(this.http, options.signal, (signal) => readOrganisation(this.api, signal));
  }

  verify(options?: VerifyOptions | AbortSignal): Promise<VerifyResult> {
    return verifyZitadel(this.api, this.tokens, this.tokenUrl, verifyOptions(options).signal);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
