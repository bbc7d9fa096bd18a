// A full read of a generated directory through the Okta driver, then incremental reads, each after one
// person is suspended: driver and emulator in one process, the emulator's rate limit off.
// Run: npx tsx bench/okta-incremental.ts [users=100000] [groups=20000]
// cpu is the whole process's CPU time, the emulator's work included.
import { DRIVERS } from '../src/providers/registry.js';
import { OktaEmulator } from '../test/emulators/okta/emulator.js';
import { generateFixtureDirectory } from '../test/fixtures/generate-directory.js';

const users = Number(process.argv[2] ?? 100_000);
const groups = Number(process.argv[3] ?? 20_000);
const okta = new OktaEmulator(generateFixtureDirectory({ users, groups, seed: 42 }));
okta.rateLimitPerMinute = Number.MAX_SAFE_INTEGER;
await okta.start();
try {
  const conn = okta.connection();
  const driver = DRIVERS.okta({ settings: conn.settings, credentials: conn.secret, allowInsecureLoopback: true });
  const read = async (what: string) => {
    const served = okta.requests.length;
    const started = performance.now();
    const cpu = process.cpuUsage();
    const snapshot = await driver.fetch({ syncOrgUnits: false });
    const used = process.cpuUsage(cpu);
    const suspended = snapshot.users.filter((u) => u.state === 'Suspended').length;
    console.log(`${what}: ${okta.requests.length - served} calls in ${((performance.now() - started) / 1000).toFixed(2)} s (cpu ${((used.user + used.system) / 1e6).toFixed(2)} s), ${snapshot.users.length} users (${suspended} suspended), ${snapshot.groups.length} groups`);
  };
  console.log(`okta: ${users} users / ${groups} groups (seed 42)`);
  await read('full read');
  for (let i = 1; i <= 3; i++) {
    okta.directory.users.find((u) => (u.state ?? 'active') === 'active')!.state = 'suspended';
    await read(`incremental read after suspension ${i}`);
  }
} finally {
  await okta.stop();
}
