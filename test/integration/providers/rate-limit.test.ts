import { expect } from 'chai';
import { createGoogleWorkspaceDriver } from '../../../src/providers/google/driver.js';
import { JumpCloudDriver } from '../../../src/providers/jumpcloud/driver.js';
import type { ProviderDriver } from '../../../src/providers/types.js';
import type { EmulatorBase } from '../../emulators/common.js';
import { generateFixture } from '../../emulators/fixture.js';
import { GoogleWorkspaceEmulator } from '../../emulators/google/emulator.js';
import { JumpCloudEmulator } from '../../emulators/jumpcloud/emulator.js';

// A real rate-limit episode (real time) in the middle of a read, for IdPs whose rate-limit answer
// says nothing about when to come back. Each retrying request on its own would hit the limit again
// and again (about 200 refusals for this directory before the shared gate); with the gate only the
// requests in flight when it closed and one trial per reopening are refused.
const EPISODE_MS = 600;
const CONCURRENCY = 4;

const cases: { name: string; emulator: () => EmulatorBase; driver: (e: EmulatorBase) => ProviderDriver }[] = [
  {
    name: 'Google Workspace (403 userRateLimitExceeded)',
    emulator: () => new GoogleWorkspaceEmulator(generateFixture(300, 120)),
    driver: (e) => {
      const c = e.connection();
      return createGoogleWorkspaceDriver({ settings: c.settings as never, credentials: c.secret, allowInsecureLoopback: true });
    },
  },
  {
    name: 'JumpCloud (429 without Retry-After)',
    emulator: () => new JumpCloudEmulator(generateFixture(300, 120)),
    driver: (e) => {
      const c = e.connection();
      return new JumpCloudDriver({ settings: c.settings as never, credentials: c.secret, allowInsecureLoopback: true });
    },
  },
];

describe('one rate-limit pause per IdP', () => {
  for (const { name, emulator: make, driver: connect } of cases) {
    it(`${name}: every request waits out the episode together`, async function () {
      this.timeout(20_000);
      const emulator = make();
      await emulator.start();
      const driver = connect(emulator);
      try {
        emulator.faults = { rateLimitForMs: EPISODE_MS, rateLimitAfter: 10 };
        const snapshot = await driver.fetch({ syncOrgUnits: false });
        expect(snapshot.groups).to.have.length(120);
        expect(emulator.rateLimitAnswers).to.be.at.least(1);
        // Requests in flight when the gate closed, then one trial per reopening (500 ms, 1 s, …).
        expect(emulator.rateLimitAnswers).to.be.at.most(CONCURRENCY + 3);
      } finally {
        await driver.close?.();
        await emulator.stop();
      }
    });
  }
});
