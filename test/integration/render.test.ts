// `idpsync render` against every provider's emulator: YAML in, the objects the operator would write out.
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { EMULATORS } from '../emulators/registry.js';
import { loadFixture } from '../emulators/fixture.js';
import { planToJson, planToTable, planToYaml, readRenderInput, render, type RenderInput } from '../../src/cli/render.js';
import { applyPlan } from '../../src/controllers/directorysync/apply.js';
import { idHash } from '../../src/directory/naming.js';
import { MemoryKube } from '../support/memory-kube.js';
import type { VerifyResult } from '../../src/providers/types.js';

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
        const everyone = objects.find((o) => o.kind === 'Group' && o.spec.displayName === 'Everyone');
        expect(everyone.metadata.labels['idpsync.io/idp-name-hash'], 'the label Policy idpName selectors use').to.equal(idHash('Everyone'));
      } finally {
        await idp.stop();
      }
    });
  }

  it('names the Secret key, never its value, when a credential cannot be sent (a line break in an API token)', async function () {
    this.timeout(20_000); // one attempt: a header value that cannot be sent is not retried
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

  describe('through the functions a sync uses', () => {
    const make = EMULATORS.okta;
    let idp: ReturnType<typeof make>;
    let input: RenderInput;
    before(async () => {
      idp = make(loadFixture(SEED));
      await idp.start();
      const conn = idp.connection();
      input = {
        directorySync: {
          apiVersion: 'idpsync.io/v1alpha1',
          kind: 'DirectorySync',
          metadata: { name: 'corp', namespace: 'access', uid: 'uid-corp' },
          spec: {
            provider: { type: 'okta', okta: conn.settings, allowInsecureLoopback: true },
            credentialsRef: { name: 'creds' },
            policies: [{ name: 'db', groups: { names: ['Engineering'] }, resources: [{ address: '10.0.0.0/8' }] }],
          },
        } as RenderInput['directorySync'],
        secretData: conn.secret,
      };
    });
    after(() => idp.stop());

    it('prints the Policies declared in spec.policies, and JSON on request', async () => {
      const { plan } = await render(input);
      const yamlPolicies = parseAllDocuments(planToYaml(input.directorySync, plan)).map((d) => d.toJS()).filter((o) => o.kind === 'Policy');
      expect(yamlPolicies).to.have.length(1);
      expect(yamlPolicies[0].spec.resources).to.deep.equal([{ address: '10.0.0.0/8' }]);
      const list = JSON.parse(planToJson(input.directorySync, plan));
      expect(list.kind).to.equal('List');
      expect(list.items.map((o: { kind: string }) => o.kind).sort()).to.deep.equal([...Array(4).fill('Group'), 'Policy', ...Array(5).fill('User')]);
      expect(planToTable(plan)).to.contain('1 policies');
    });

    it('hands over the permission checks before the read, so they are shown when the read then fails', async () => {
      const wrong = { ...input, secretData: Object.fromEntries(Object.keys(input.secretData).map((k) => [k, 'not-the-secret'])) };
      let checks: VerifyResult | undefined;
      const failure = await render(wrong, { verify: true, onVerify: (v) => (checks = v) }).then(() => undefined, (e: Error) => e);
      expect(failure, 'the read fails with wrong credentials').to.be.instanceOf(Error);
      expect(checks?.ok).to.equal(false);
      expect(checks?.checks.length).to.be.greaterThan(0);
    });

    it('with a cluster, prints only what a sync would change there', async () => {
      const kube = new MemoryKube();
      const first = await render(input, { cluster: kube });
      expect(planToTable(first.plan, first.existing)).to.match(/^ACTION/);
      await applyPlan(kube, input.directorySync, first.plan, []);

      const same = await render(input, { cluster: kube });
      expect(planToTable(same.plan, same.existing)).to.contain('The cluster already matches the IdP');
      expect(JSON.parse(planToJson(input.directorySync, same.plan, same.existing)).items).to.deep.equal([]);

      const someone = first.plan.users[0].name;
      const group = first.plan.groups[0].name;
      await kube.delete('User', 'access', someone);
      await kube.delete('Group', 'access', group);
      const after = await render(input, { cluster: kube });
      const table = planToTable(after.plan, after.existing);
      expect(table).to.match(new RegExp(`create\\s+User\\s+${someone}`));
      expect(table).to.match(new RegExp(`create\\s+Group\\s+${group}`));
      expect(kube.writes().length, 'render never writes').to.equal(first.plan.groups.length + first.plan.users.length + first.plan.policies.writes.length + 2);
    });
  });

  it('says clearly when the Secret is missing from the files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'render-'));
    const dsFile = join(dir, 'ds.yaml');
    writeFileSync(dsFile, stringify({ kind: 'DirectorySync', metadata: { name: 'x' }, spec: { credentialsRef: { name: 'nope' } } }));
    expect(() => readRenderInput([dsFile])).to.throw('no Secret named nope');
  });
});
