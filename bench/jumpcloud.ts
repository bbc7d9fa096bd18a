// One full read of a generated 10,000-user / 1,000-group organization through the JumpCloud driver and emulator.
// Run: npx tsx bench/jumpcloud.ts [users] [groups]
import { createJumpCloudDriver } from '../src/providers/jumpcloud/driver.js';
import { generateFixture } from '../test/emulators/fixture.js';
import { JumpCloudEmulator } from '../test/emulators/jumpcloud/emulator.js';

const users = Number(process.argv[2] ?? 10_000);
const groups = Number(process.argv[3] ?? 1_000);

const emulator = new JumpCloudEmulator(generateFixture(users, groups));
await emulator.start();
try {
  const conn = emulator.connection();
  const driver = createJumpCloudDriver({ settings: conn.settings, credentials: conn.secret, allowInsecureLoopback: true });
  const started = performance.now();
  const snapshot = await driver.fetch({ syncOrgUnits: false });
  const seconds = (performance.now() - started) / 1000;
  const memberships = snapshot.groups.reduce((n, g) => n + g.memberUserIds.length, 0);
  console.log(
    `${snapshot.users.length} users, ${snapshot.groups.length} groups, ${memberships} memberships: ` +
      `${snapshot.apiCalls} calls in ${seconds.toFixed(2)} s`,
  );
} finally {
  await emulator.stop();
}
