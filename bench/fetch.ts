// One full read of a generated directory through a provider's driver and its emulator.
// Run: npx tsx bench/fetch.ts <okta|googleWorkspace|jumpcloud|entra|keycloak|authentik|auth0|zitadel> [users] [groups]   (default 10000, 1000)
// cpu is the whole process's CPU time (the emulator runs in it too): steadier than seconds on a shared machine.
import { DRIVERS } from '../src/providers/registry.js';
import { EMULATORS } from '../test/emulators/registry.js';
import { generateFixture } from '../test/emulators/fixture.js';

const [type = 'okta', users = '10000', groups = '1000'] = process.argv.slice(2);
if (!DRIVERS[type] || !EMULATORS[type]) throw new Error(`unknown provider ${type}: one of ${Object.keys(DRIVERS).join(', ')}`);

const emulator = EMULATORS[type](generateFixture(Number(users), Number(groups)));
await emulator.start();
try {
  const conn = emulator.connection();
  const driver = DRIVERS[type]({ settings: conn.settings, credentials: conn.secret, allowInsecureLoopback: true });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const snapshot = await driver.fetch({ syncOrgUnits: false });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const memberships = snapshot.groups.reduce((n, g) => n + g.memberUserIds.length, 0);
  console.log(
    `${type}: ${snapshot.users.length} users, ${snapshot.groups.length} groups, ${memberships} direct memberships: ` +
      `${snapshot.apiCalls} calls in ${seconds.toFixed(2)} s (cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s), ${emulator.rateLimitAnswers} rate-limit answers`,
  );
} finally {
  await emulator.stop();
}
