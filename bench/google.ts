// Measures one full Google Workspace fetch of a generated directory against the emulator.
//   npx tsx bench/google.ts [users] [groups]     (default 10000 users, 1000 groups)
import { createGoogleWorkspaceDriver } from '../src/providers/google/driver.js';
import { generateFixture } from '../test/emulators/fixture.js';
import { GoogleWorkspaceEmulator } from '../test/emulators/google/emulator.js';

const users = Number(process.argv[2] ?? 10_000);
const groups = Number(process.argv[3] ?? 1_000);

const emulator = new GoogleWorkspaceEmulator(generateFixture(users, groups));
await emulator.start();
try {
  const connection = emulator.connection();
  const driver = createGoogleWorkspaceDriver({
    settings: connection.settings as any,
    credentials: connection.secret,
    allowInsecureLoopback: true,
  });
  const started = performance.now();
  const snapshot = await driver.fetch({ syncOrgUnits: false });
  const seconds = (performance.now() - started) / 1000;
  const memberships = snapshot.groups.reduce((n, g) => n + g.memberUserIds.length, 0);
  console.log(
    `google: ${snapshot.users.length} users, ${snapshot.groups.length} groups, ${memberships} direct memberships: ` +
      `${snapshot.apiCalls} calls in ${seconds.toFixed(2)} s`,
  );
} finally {
  await emulator.stop();
}
