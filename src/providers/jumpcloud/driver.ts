// The JumpCloud driver: settings and Secret in, complete directory snapshots out.
import type { Static } from '@sinclair/typebox';
import type { JumpCloudSettings as JumpCloudSettingsSchema } from '../../api/v1alpha1/directorysync.js';
import { StallError } from '../../errors.js';
import { IdpHttpClient, readWhole } from '../http.js';
import { checkUrlPolicy } from '../../util/http.js';
import { verifyOptions, type DriverContext, type DriverFactory, type FetchOptions, type ProviderDriver, type VerifyOptions, type VerifyResult } from '../types.js';
import { type DirectorySnapshot } from '../../directory/snapshot.js';
import { EU_CONSOLE, JumpCloudApi, US_CONSOLE } from './api.js';
import { readDirectory } from './directory.js';
import { classifyFor, errorText } from './responses.js';
import { verifyJumpCloud } from './verify.js';

/** spec.provider.jumpcloud; region defaults to US as the apiserver would. */
export type JumpCloudSettings = Omit<Static<typeof JumpCloudSettingsSchema>, 'region'> & { region?: 'US' | 'EU' };

export interface JumpCloudDriverOptions {
  /** Rows per request (2..100). JumpCloud's maximum, 100, unless a test wants many pages. */
  pageLimit?: number;
}

/** The console origin the API lives under: baseUrl when set (a trailing /api is tolerated), else the region's. */
export function consoleUrl(settings: JumpCloudSettings, allowInsecureLoopback?: boolean): URL {
  if (settings.baseUrl) {
    const url = checkUrlPolicy(settings.baseUrl, allowInsecureLoopback, 'JumpCloud base URL');
    url.pathname = url.pathname.replace(/\/+$/, '').replace(/\/api$/, '') + '/';
    return url;
  }
  return new URL(settings.region === 'EU' ? EU_CONSOLE : US_CONSOLE);
}

export const createJumpCloudDriver: DriverFactory<JumpCloudSettings> = (ctx: DriverContext<JumpCloudSettings>): ProviderDriver => new JumpCloudDriver(ctx);

export class JumpCloudDriver implements ProviderDriver {
  readonly type = 'jumpcloud';
  private readonly http: IdpHttpClient;
  private readonly api: JumpCloudApi;

  constructor(
    private readonly ctx: DriverContext<JumpCloudSettings>,
    options: JumpCloudDriverOptions = {},
  ) {
    const settings = ctx.settings ?? {};
    const apiKey = ctx.credentials.apiKey?.trim();
    if (!apiKey) {
      throw new StallError('InvalidConfiguration', 'the Secret has no "apiKey" (the API key of a JumpCloud administrator)');
    }
    this.http = new IdpHttpClient({
      idpName: 'JumpCloud',
      caBundle: ctx.caBundle,
      allowInsecureLoopback: ctx.allowInsecureLoopback,
      errorText,
      classify: classifyFor(settings.orgId),
      now: ctx.now,
      sleep: ctx.sleep,
      rateLimits: ctx.rateLimits,
    });
    this.api = new JumpCloudApi(this.http, {
      baseUrl: consoleUrl(settings, ctx.allowInsecureLoopback),
      apiKey,
      orgId: settings.orgId || undefined,
      pageLimit: options.pageLimit,
    });
  }

  fetch(options: FetchOptions): Promise<DirectorySnapshot> {
    return readWhole(this.http, options.signal, (signal) => readDirectory(this.api, this.ctx.settings?.applicationId || undefined, signal));
  }

  verify(options?: VerifyOptions | AbortSignal): Promise<VerifyResult> {
    return verifyJumpCloud(this.api, this.ctx.settings?.applicationId || undefined, verifyOptions(options).signal);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
