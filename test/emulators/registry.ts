// Every IdP emulator by provider type, for the demo, `idpsync render` tests and e2e suites.
import type { DirectoryFixture } from './fixture.js';
import type { EmulatorBase } from './common.js';
import { OktaEmulator } from './okta/emulator.js';

export const EMULATORS: Record<string, (fixture: DirectoryFixture) => EmulatorBase> = {
  okta: (f) => new OktaEmulator(f),
};
