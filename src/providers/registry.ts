// Maps spec.provider.type to its driver. Each driver lives in src/providers/<idp>/ and declares the
// settings type it reads; this is the one place where a provider block arrives untyped, and it is
// checked against the API schema of its type (with the API's defaults applied) before any driver sees it.
import type { TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  EntraSettings,
  GoogleWorkspaceSettings,
  JumpCloudSettings,
  KeycloakSettings,
  AuthentikSettings,
  Auth0Settings,
  OktaSettings,
  ScimSettings,
  ZitadelSettings,
  type ProviderType,
} from '../api/v1alpha1/directorysync.js';
import { StallError } from '../errors.js';
import type { DriverContext, DriverFactory } from './types.js';
import { createGoogleWorkspaceDriver } from './google/driver.js';
import { createOktaDriver } from './okta/driver.js';
import { createJumpCloudDriver } from './jumpcloud/driver.js';
import { createEntraDriver } from './entra/driver.js';
import { createKeycloakDriver } from './keycloak/driver.js';
import { createAuthentikDriver } from './authentik/driver.js';
import { createAuth0Driver } from './auth0/driver.js';
import { createZitadelDriver } from './zitadel/driver.js';
import { createScimDriver, createScimDriverFactory, type ScimBackend } from './scim/driver.js';

/** The settings type each driver reads, by provider type. */
export interface ProviderSettings {
  okta: Parameters<typeof createOktaDriver>[0]['settings'];
  googleWorkspace: Parameters<typeof createGoogleWorkspaceDriver>[0]['settings'];
  entra: Parameters<typeof createEntraDriver>[0]['settings'];
  jumpcloud: Parameters<typeof createJumpCloudDriver>[0]['settings'];
  keycloak: Parameters<typeof createKeycloakDriver>[0]['settings'];
  authentik: Parameters<typeof createAuthentikDriver>[0]['settings'];
  auth0: Parameters<typeof createAuth0Driver>[0]['settings'];
  zitadel: Parameters<typeof createZitadelDriver>[0]['settings'];
  scim: Parameters<typeof createScimDriver>[0]['settings'];
}

type TypedFactories = { [K in ProviderType]: { schema: TObject; create: DriverFactory<ProviderSettings[K]> } };

const FACTORIES: TypedFactories = {
  okta: { schema: OktaSettings, create: createOktaDriver },
  googleWorkspace: { schema: GoogleWorkspaceSettings, create: createGoogleWorkspaceDriver },
  entra: { schema: EntraSettings, create: createEntraDriver },
  jumpcloud: { schema: JumpCloudSettings, create: createJumpCloudDriver },
  keycloak: { schema: KeycloakSettings, create: createKeycloakDriver },
  authentik: { schema: AuthentikSettings, create: createAuthentikDriver },
  auth0: { schema: Auth0Settings, create: createAuth0Driver },
  zitadel: { schema: ZitadelSettings, create: createZitadelDriver },
  scim: { schema: ScimSettings, create: createScimDriver },
};

/** Applies the schema's defaults and checks the block; a block that does not fit stalls with the field it fails on. */
export function checkSettings<K extends ProviderType>(type: K, schema: TObject, raw: unknown): ProviderSettings[K] {
  const settings = Value.Default(schema, Value.Clone(raw ?? {}));
  const error = Value.Errors(schema, settings).First();
  if (error) {
    const field = error.path ? `spec.provider.${type}${error.path.replace(/\//g, '.')}` : `spec.provider.${type}`;
    throw new StallError('InvalidConfiguration', `${field}: ${error.message}`);
  }
  return settings as ProviderSettings[K];
}

function checked<K extends ProviderType>(type: K, create: DriverFactory<ProviderSettings[K]> = FACTORIES[type].create as DriverFactory<ProviderSettings[K]>): DriverFactory {
  const { schema } = FACTORIES[type];
  return (ctx: DriverContext) => create({ ...ctx, settings: checkSettings(type, schema, ctx.settings) });
}

export const DRIVERS: Record<string, DriverFactory> = Object.fromEntries(
  (Object.keys(FACTORIES) as ProviderType[]).map((type) => [type, checked(type)]),
);

/** The drivers with scim reading from a running SCIM server's store (the default scim driver stalls without one). */
export function driversWithScim(backend: ScimBackend): Record<string, DriverFactory> {
  return { ...DRIVERS, scim: checked('scim', createScimDriverFactory(backend)) };
}
