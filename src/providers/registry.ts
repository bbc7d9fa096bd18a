// Maps spec.provider.type to its driver. Each driver lives in src/providers/<idp>/.
import type { DriverFactory } from './types.js';
import { createGoogleWorkspaceDriver } from './google/driver.js';
import { createOktaDriver } from './okta/driver.js';
import { createJumpCloudDriver } from './jumpcloud/driver.js';
import { createEntraDriver } from './entra/driver.js';

export const DRIVERS: Record<string, DriverFactory> = {
  googleWorkspace: createGoogleWorkspaceDriver,
  okta: createOktaDriver,
  jumpcloud: createJumpCloudDriver,
  entra: createEntraDriver,
};
