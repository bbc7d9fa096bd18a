// probe: full read then incremental reads of a 100k Okta directory, driver and emulator in one process.
import { DRIVERS } from '../src/providers/registry.js';
import { OktaEmulator } from '../test/emulators/okta/emulator.js';
import { generateFixtureDirectory } from '../test/fixtures/generate-directory.js';

const users = Number(process.argv[2] ?? 100000), groups = Number(process.argv[3] ?? 20000);
const okta = new OktaEmulator(generateFixtureDirectory({ users, groups, seed: 42 }));
okta.rateLimitPerMinute = 1e9;
await okta.start();
const conn = okta.connection();
const driver = DRIVERS.okta({ settings: conn.settings, credentials: conn.secret, allowInsecureLoopback: true });
let t = performance.now();
await driver.fetch({ syncOrgUnits: false });
console.log('full', ((performance.now() - t) / 1000).toFixed(2));
for (let i = 0; i < 4; i++) {
  okta.directory.users[i * 7].state = 'suspended';
  const served = okta.requests.length;
  t = performance.now();
  const snap = await driver.fetch({ syncOrgUnits: false });
  console.log('incremental', ((performance.now() - t) / 1000).toFixed(2), 'calls', okta.requests.length - served, snap.users.length);
}
await okta.stop();
