// A generated 10,000-user / 1,000-group tenant through the Entra driver and emulator: the first
// (full) delta round, an unchanged delta round, a round with a few changes, and a plain full read.
// Run: npx tsx bench/entra.ts [users] [groups]
import { createEntraDriver } from '../src/providers/entra/driver.js';
import type { ProviderDriver } from '../src/providers/types.js';
import type { DirectorySnapshot } from '../src/directory/snapshot.js';
import { generateFixture } from '../test/emulators/fixture.js';
import { EntraEmulator } from '../test/emulators/entra/emulator.js';

const users = Number(process.argv[2] ?? 10_000);
const groups = Number(process.argv[3] ?? 1_000);

const emulator = new EntraEmulator(generateFixture(users, groups));
await emulator.start();

function driver(delta: boolean): ProviderDriver {
  const conn = emulator.connection();
  return createEntraDriver({ settings: { ...conn.settings, delta }, credentials: conn.secret, allowInsecureLoopback: true });
}

async function timed(label: string, d: ProviderDriver): Promise<DirectorySnapshot> {
  const started = performance.now();
  const snapshot = await d.fetch({ syncOrgUnits: false });
  const seconds = (performance.now() - started) / 1000;
  const memberships = snapshot.groups.reduce((n, g) => n + g.memberUserIds.length + g.memberGroupIds.length, 0);
  console.log(
    `${label.padEnd(28)} ${snapshot.users.length} users, ${snapshot.groups.length} groups, ${memberships} memberships: ` +
      `${snapshot.apiCalls} calls in ${seconds.toFixed(2)} s`,
  );
  return snapshot;
}

try {
  const incremental = driver(true);
  await timed('delta, first round (full)', incremental);
  await timed('delta, unchanged', incremental);
  emulator.directory.users[0].state = 'suspended';
  emulator.directory.users[1].state = 'deleted';
  emulator.directory.groups[0].members!.pop();
  await timed('delta, 3 changes', incremental);
  await timed('full read (delta: false)', driver(false));
} finally {
  await emulator.stop();
}
