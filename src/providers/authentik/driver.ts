// authentik driver: the v3 API of one instance, read with an API token.
import type { Static } from '@sinclair/typebox';
import type { AuthentikSettings as AuthentikSettingsSchema } from '../../api/v1alpha1/directorysync.js';
import { StallError } from '../../errors.js';
import { IdpHttpClient, readWhole } from '../http.js';
import { checkUrlPolicy } from '../../util/http.js';
import { verifyOptions, type DriverContext, type DriverFactory, type FetchOptions, type ProviderDriver, type VerifyOptions, type VerifyResult } from '../types.js';
import { type DirectorySnapshot } from '../../directory/snapshot.js';
import { AuthentikApi, apiBase, errorText } from './api.js';
import { readInstance } from './directory.js';
import { verifyAuthentik } from './verify.js';

/** spec.provider.authentik */
export type AuthentikSettings = Static<typeof AuthentikSettingsSchema>;

export const createAuthentikDriver: DriverFactory<AuthentikSettings> = (ctx) => new AuthentikDriver(ctx);

export class AuthentikDriver implements ProviderDriver {
  readonly type = 'authentik';
  private readonly http: IdpHttpClient;
  private readonly api: AuthentikApi;

  constructor(ctx: DriverContext<AuthentikSettings>) {
    const { settings, credentials } = ctx;
    if (!settings?.baseUrl) throw new StallError('InvalidConfiguration', 'spec.provider.authentik.baseUrl is required');
    const token = credentials.token?.trim();
    if (!token) {
      throw new StallError('InvalidConfiguration', 'the Secret has no "token" (an authentik API token, from Directory › Tokens and App passwords)');
    }
    const base = checkUrlPolicy(settings.baseUrl, ctx.allowInsecureLoopback, 'authentik base URL');
    this.http = new IdpHttpClient({
      idpName: 'authentik',
      caBundle: ctx.caBundle,
      allowInsecureLoopback: ctx.allowInsecureLoopback,
      errorText,
      now: ctx.now,
      sleep: ctx.sleep,
      rateLimits: ctx.rateLimits,
    });
    this.api = new AuthentikApi(this.http, { apiBase: apiBase(base), token, pageSize: settings.pageSize });
  }

  fetch(options: FetchOptions): Promise<DirectorySnapshot> {
    return readWhole(this.http, options.signal, (signal) => readInstance(this.api, signal));
  }

  verify(options?: VerifyOptions | AbortSignal): Promise<VerifyResult> {
    return verifyAuthentik(this.api, verifyOptions(options).signal);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
