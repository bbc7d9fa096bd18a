// Builds a DirectorySync's driver the one way both the operator and `idpsync render` use, so a
// preview talks to the IdP exactly as a sync would.
import type { DirectorySync } from '../api/v1alpha1/index.js';
import { StallError } from '../errors.js';
import { RateLimitRecord } from './rate-limits.js';
import type { DriverFactory, ProviderDriver } from './types.js';

/** Each driver's record of its IdP's rate-limit answers, kept beside it so no driver has to expose it. */
const rateLimitRecords = new WeakMap<ProviderDriver, RateLimitRecord>();

export function createDriver(
  drivers: Record<string, DriverFactory>,
  ds: DirectorySync,
  credentials: Record<string, string>,
  now?: () => number,
): ProviderDriver {
  const provider = ds.spec.provider;
  const factory = drivers[provider.type];
  if (!factory) throw new StallError('UnsupportedProvider', `provider.type ${provider.type} is not supported by this operator version`);
  const rateLimits = new RateLimitRecord();
  const driver = factory({
    settings: (provider as Record<string, unknown>)[provider.type] ?? {},
    credentials,
    caBundle: provider.caBundle,
    allowInsecureLoopback: provider.allowInsecureLoopback,
    directory: { namespace: ds.metadata.namespace!, name: ds.metadata.name! },
    now,
    rateLimits,
  });
  rateLimitRecords.set(driver, rateLimits);
  return driver;
}

/**
 * How many rate-limit (or quota) answers a driver made by createDriver got from its IdP at or after
 * `since`, with no successful answer after them: the IdP was still refusing when a read ran out of time.
 */
export function rateLimitAnswersSince(driver: ProviderDriver, since: number): number {
  return rateLimitRecords.get(driver)?.limitedSince(since) ?? 0;
}

/** Stalls naming the first spec.provider.<provider> field that is missing or empty. */
export function requireSettings<S extends object>(provider: string, settings: S | undefined, fields: readonly (keyof S & string)[]): void {
  for (const field of fields) {
    if (!settings?.[field]) throw new StallError('InvalidConfiguration', `spec.provider.${provider}.${field} is required`);
  }
}
