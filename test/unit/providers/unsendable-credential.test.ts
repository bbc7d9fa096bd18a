// An API token with a line break cannot go into an HTTP header: sending it again cannot help, so the
// first refusal must end the call, and what reaches the status must name the Secret key, not the value.
import { expect } from 'chai';
import { DRIVERS } from '../../../src/providers/registry.js';
import { credentialLeakError } from '../../../src/providers/credential-errors.js';
import { IdpHttpClient } from '../../../src/providers/http.js';
import { StallError } from '../../../src/errors.js';
import { EMULATORS } from '../../emulators/registry.js';
import { loadFixture } from '../../emulators/fixture.js';

const SEED = new URL('../../fixtures/seed-example.yaml', import.meta.url).pathname;
const TOKEN = 'token-part-one-abcdef\ntoken-part-two-ghijkl';

describe('a credential that cannot be sent in a header', () => {
  it('is tried once, not retried, and fails as a Stall whose message does not quote it', async () => {
    const sleeps: number[] = [];
    const http = new IdpHttpClient({ idpName: 'test', allowInsecureLoopback: true, sleep: async (ms) => void sleeps.push(ms) });
    try {
      // Port 9 (discard) is never reached: the header is refused before any connection.
      const err = await http.getJson('http://127.0.0.1:9/api/users', { headers: { authorization: `SSWS ${TOKEN}` } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(StallError);
      expect(http.calls, 'attempts').to.equal(1);
      expect(sleeps, 'backoff waits').to.deep.equal([]);
      expect((err as Error).message).to.not.contain('token-part');
      const named = credentialLeakError(err, { apiToken: TOKEN }, 'okta-creds');
      expect(named?.message).to.contain('the value of key "apiToken" in Secret okta-creds cannot be sent to the IdP');
      expect(named?.message).to.not.contain('token-part');
    } finally {
      await http.close();
    }
  });

  it('ends an Okta read at the first attempt, with no backoff', async () => {
    const idp = EMULATORS.okta(loadFixture(SEED));
    await idp.start();
    const sleeps: number[] = [];
    try {
      const conn = (idp as unknown as { connection(o: { auth: string }): { settings: unknown } }).connection({ auth: 'apiToken' });
      const driver = DRIVERS.okta({ settings: conn.settings, credentials: { apiToken: TOKEN }, allowInsecureLoopback: true, sleep: async (ms) => void sleeps.push(ms) });
      try {
        const err = await driver.fetch({ syncOrgUnits: false }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(StallError);
        expect(sleeps, 'backoff waits').to.deep.equal([]);
        expect(credentialLeakError(err, { apiToken: TOKEN }, 'creds')?.reason).to.equal('InvalidCredentials');
      } finally {
        await driver.close?.();
      }
    } finally {
      await idp.stop();
    }
  });
});
