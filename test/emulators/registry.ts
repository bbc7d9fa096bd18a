// Every IdP emulator by provider type, for the demo, `idpsync render` tests and e2e suites.
import type { DirectoryFixture } from './fixture.js';
import type { EmulatorBase } from './common.js';
import { GoogleWorkspaceEmulator } from './google/emulator.js';
import { OktaEmulator } from './okta/emulator.js';
import { JumpCloudEmulator } from './jumpcloud/emulator.js';
import { EntraEmulator } from './entra/emulator.js';
import { KeycloakEmulator } from './keycloak/emulator.js';
import { AuthentikEmulator } from './authentik/emulator.js';
import { Auth0Emulator } from './auth0/emulator.js';
import { ZitadelEmulator } from './zitadel/emulator.js';

export const EMULATORS: Record<string, (fixture: DirectoryFixture) => EmulatorBase> = {
  googleWorkspace: (f) => new GoogleWorkspaceEmulator(f),
  okta: (f) => new OktaEmulator(f),
  jumpcloud: (f) => new JumpCloudEmulator(f),
  entra: (f) => new EntraEmulator(f),
  keycloak: (f) => new KeycloakEmulator(f),
  authentik: (f) => new AuthentikEmulator(f),
  auth0: (f) => new Auth0Emulator(f),
  zitadel: (f) => new ZitadelEmulator(f),
};
