// `idpsync render` against every provider's emulator: YAML in, the objects the operator would write out.
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { EMULATORS } from '../emulators/registry.js';
import { loadFixture } from '../emulators/fixture.js';
import { planToTable, planToYaml, readRenderInput, render } from '../../src/cli/render.js';

const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;

describe('idpsync render', () => {
  for (const [type, make] of Object.entries(EMULATORS)) {
    it(`previews the Users and Groups of a ${type} directory from YAML files`, async () => {
      const idp = make(loadFixture(SEED));
      await idp.start();
      try {
        const conn = idp.connection();
        const dir = mkdtempSync(join(tmpdir(), 'render-'));
        const dsFile = join(dir, 'ds.yaml');
        const secretFile = join(dir, 'secret.yaml');
        writeFileSync(dsFile, stringify({
          apiVersion: 'idpsync.io/v1alpha1',
          kind: 'DirectorySync',
          metadata: { name: 'corp', namespace: 'access' },
          spec: { provider: { type, [type]: conn.settings, allowInsecureLoopback: true }, credentialsRef: { name: 'creds' } },
        }));
        const data = Object.fromEntries(Object.entries(conn.secret).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
        writeFileSync(secretFile, stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'access' }, data }));

        const input = readRenderInput([dsFile, secretFile]);
        const { plan, apiCalls, verify } = await render(input, { verify: true });
        expect(verify!.ok, JSON.stringify(verify)).to.equal(true);
        expect(apiCalls).to.be.greaterThan(0);
        expect(plan.counts).to.include({ users: 5, activeUsers: 5, groups: 4 });
        const objects = parseAllDocuments(planToYaml(input.directorySync, plan)).map((d) => d.toJS());
        expect(objects.filter((o) => o.kind === 'User')).to.have.length(5);
        expect(objects.filter((o) => o.kind === 'Group').map((o) => o.spec.displayName).sort()).to.deep.equal(['DevOps', 'Engineering', 'Everyone', 'Support']);
        expect(objects.every((o) => o.metadata.namespace === 'access' && o.metadata.labels['idpsync.io/directory'] === 'corp')).to.equal(true);
        expect(planToTable(plan)).to.contain('5 users (5 active, 0 suspended), 4 groups');
      } finally {
        await idp.stop();
      }
    });
  }

  it('names the Secret key, never its value, when a credential cannot be sent (a line break in an API token)', async function () {
    this.timeout(90_000); // the driver retries the failed call with backoff before giving up
    const idp = EMULATORS.okta(loadFixture(SEED));
    await idp.start();
    try {
      const conn = (idp as unknown as { connection(o: { auth: string }): { settings: Record<string, unknown> } }).connection({ auth: 'apiToken' });
      const token = 'token-part-one-abcdef\ntoken-part-two-ghijkl';
      const input = {
        directorySync: {
          apiVersion: 'idpsync.io/v1alpha1',
          kind: 'DirectorySync',
          metadata: { name: 'corp', namespace: 'access' },
          spec: { provider: { type: 'okta', okta: conn.settings, allowInsecureLoopback: true }, credentialsRef: { name: 'creds' } },
        },
        secretData: { apiToken: token },
      } as unknown as Parameters<typeof render>[0];
      for (const verify of [false, true]) {
        const err = await render(input, { verify }).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.contain('the value of key "apiToken" in Secret creds cannot be sent to the IdP');
        expect(err?.message).to.not.contain('token-part');
      }
    } finally {
      await idp.stop();
    }
  });

  it('says clearly when the Secret is missing from the files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'render-'));
    const dsFile = join(dir, 'ds.yaml');
    writeFileSync(dsFile, stringify({ kind: 'DirectorySync', metadata: { name: 'x' }, spec: { credentialsRef: { name: 'nope' } } }));
    expect(() => readRenderInput([dsFile])).to.throw('no Secret named nope');
  });
});
