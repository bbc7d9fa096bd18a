// Builds a DirectorySync's driver the one way both the operator and `idpsync render` use, so a
// preview talks to the IdP exactly as a sync would.
import type { DirectorySync } from '../api/v1alpha1/index.js';
import { StallError } from '../errors.js';
import type { DriverFactory, ProviderDriver } from './types.js';

export function createDriver(
  drivers: Record<string, DriverFactory>,
  ds: DirectorySync,
  credentials: Record<string, string>,
  now?: () => number,
): ProviderDriver {
  const provider = ds.spec.provider;
  const factory = drivers[provider.type];
  if (!factory) throw new StallError('UnsupportedProvider', `provider.type ${provider.type} is not supported by this operator version`);
  return factory({
    settings: (provider as Record<string, unknown>)[provider.type] ?? {},
    credentials,
    caBundle: provider.caBundle,
    allowInsecureLoopback: provider.allowInsecureLoopback,
    directory: { namespace: ds.metadata.namespace!, name: ds.metadata.name! },
    now,
  });
}
