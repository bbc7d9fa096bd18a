// One rate-limit episode in the middle of a full read: half-way through (by request count, measured
// with an undisturbed read first), the emulator answers every request with its IdP's rate-limit
// answer for 1 s. Prints, per provider, how many
// rate-limit answers the driver collected, its request count and how long the read took.
// Run: npx tsx bench/rate-limit.ts [providers, comma separated] [users] [groups] [episode ms]
import { DRIVERS } from '../src/providers/registry.js';
import { EMULATORS } from '../test/emulators/registry.js';
import { generateFixture } from '../test/emulators/fixture.js';

const [list = 'googleWorkspace,jumpcloud,okta,entra', users = '2000', groups = '200', episodeMs = '1000'] = process.argv.slice(2);

for (const type of list.split(',')) {
  const factory = DRIVERS[type];
  if (!factory || !EMULATORS[type]) throw new Error(`unknown provider ${type}`);
  const emulator = EMULATORS[type](generateFixture(Number(users), Number(groups)));
  await emulator.start();
  try {
    const conn = emulator.connection();
    const connect = () => factory({ settings: conn.settings, credentials: conn.secret, allowInsecureLoopback: true });
    const calibration = connect();
    const undisturbed = (await calibration.fetch({ syncOrgUnits: false })).apiCalls;
    await calibration.close?.();
    emulator.requests.length = 0;

    const driver = connect();
    emulator.faults = { rateLimitForMs: Number(episodeMs), rateLimitAfter: Math.floor(undisturbed / 2) };
    const started = performance.now();
    const outcome = await driver.fetch({ syncOrgUnits: false }).then(
      (s) => `${s.users.length} users, ${s.groups.length} groups`,
      (err: Error) => `failed: ${err.message.slice(0, 120)}`,
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${type.padEnd(16)} rate-limit answers: ${String(emulator.rateLimitAnswers).padStart(4)}  requests: ${String(emulator.requests.length).padStart(5)} (undisturbed ${undisturbed})  ` +
        `${seconds.toFixed(2)} s  (${outcome})`,
    );
    await driver.close?.();
  } finally {
    await emulator.stop();
  }
}
