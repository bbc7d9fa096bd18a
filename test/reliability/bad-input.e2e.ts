// Bad input, three ways. The admission table: every invalid DirectorySync and Policy shape applied to
// the real apiserver, with the exact message a person sees (printed, and copied into
// docs/reliability.md). Secrets missing keys or holding malformed ones: status explains, no crash.
// Hostile IdP data (very long names, unicode, control characters, ids listed twice, emails differing
// only by case, names that are not Kubernetes names): no crash, no collision, no directory blocked.
import { expect } from 'chai';
import { stringify } from 'yaml';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { OktaEmulator } from '../emulators/okta/emulator.js';
import { loadFixture, type DirectoryFixture } from '../emulators/fixture.js';
import type { DirectorySync, User } from '../../src/api/v1alpha1/index.js';
import { kubectl, newNamespace, operatorKubeconfigPath, waitFor } from '../e2e/harness/index.js';
import { admin, createDirectory, getDirectory, users } from '../e2e/support/operator.js';
import { runOperator, type OperatorProcess } from './support/operator-process.js';
import { attach, report } from './support/report.js';

const FILE = 'bad-input.e2e.ts';
const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;

type Doc = Record<string, unknown>;
interface Case {
  kind: 'DirectorySync' | 'Policy';
  what: string;
  /** Changes the valid base object into the invalid one. */
  make(base: Doc & { spec: Doc }): Doc;
  /** A fragment the message must contain: the field it is about. */
  mentions: string;
}

const ds = (edit: (spec: Doc) => void, name = 'bad'): Case['make'] => (base) => {
  const copy = structuredClone(base);
  edit(copy.spec);
  (copy.metadata as Doc).name = name;
  return copy;
};
const okta = (spec: Doc) => (spec.provider as Doc).okta as Doc;

const CASES: Case[] = [
  { kind: 'DirectorySync', what: 'unknown provider.type', make: ds((s) => ((s.provider as Doc).type = 'ldap')), mentions: 'provider.type' },
  { kind: 'DirectorySync', what: 'provider.type without its settings block', make: ds((s) => ((s.provider as Doc).type = 'entra')), mentions: 'provider' },
  { kind: 'DirectorySync', what: 'two provider settings blocks', make: ds((s) => ((s.provider as Doc).keycloak = { baseUrl: 'https://kc.example.com', realm: 'r', clientId: 'c' })), mentions: 'provider' },
  { kind: 'DirectorySync', what: 'Okta domain given as a URL', make: ds((s) => (okta(s).domain = 'https://corp.okta.com')), mentions: 'domain' },
  { kind: 'DirectorySync', what: 'plain http:// endpoint', make: ds((s) => (okta(s).baseUrl = 'http://idp.example.com')), mentions: 'baseUrl' },
  { kind: 'DirectorySync', what: 'loopback http:// without allowInsecureLoopback', make: ds((s) => (okta(s).baseUrl = 'http://127.0.0.1:8080')), mentions: 'baseUrl' },
  { kind: 'DirectorySync', what: 'endpoint that is not a URL', make: ds((s) => (okta(s).baseUrl = 'not a url')), mentions: 'baseUrl' },
  { kind: 'DirectorySync', what: 'empty clientId', make: ds((s) => (okta(s).clientId = '')), mentions: 'clientId' },
  { kind: 'DirectorySync', what: 'credentialsRef in another namespace', make: ds((s) => ((s.credentialsRef as Doc).namespace = 'kube-system')), mentions: 'credentialsRef' },
  { kind: 'DirectorySync', what: 'no credentialsRef', make: ds((s) => delete s.credentialsRef), mentions: 'credentialsRef' },
  { kind: 'DirectorySync', what: 'empty credentialsRef.name', make: ds((s) => ((s.credentialsRef as Doc).name = '')), mentions: 'credentialsRef.name' },
  {
    kind: 'DirectorySync',
    what: 'generateKeyPair for a provider other than Okta',
    make: ds((s) => {
      s.provider = { type: 'keycloak', keycloak: { baseUrl: 'https://kc.example.com', realm: 'r', clientId: 'c' } };
      (s.credentialsRef as Doc).generateKeyPair = true;
    }),
    mentions: 'generateKeyPair',
  },
  { kind: 'DirectorySync', what: 'interval that is not a duration', make: ds((s) => (s.interval = 'hourly')), mentions: 'interval' },
  { kind: 'DirectorySync', what: 'interval under a minute', make: ds((s) => (s.interval = '10s')), mentions: 'interval' },
  { kind: 'DirectorySync', what: 'userRetention that is not a duration', make: ds((s) => (s.deletion = { userRetention: 'forever' })), mentions: 'userRetention' },
  { kind: 'DirectorySync', what: 'maxDeletionPercent over 100', make: ds((s) => (s.deletion = { maxDeletionPercent: 150 })), mentions: 'maxDeletionPercent' },
  { kind: 'DirectorySync', what: 'unknown deletion.policy', make: ds((s) => (s.deletion = { policy: 'Keep' })), mentions: 'policy' },
  { kind: 'DirectorySync', what: 'unknown role in roleMappings', make: ds((s) => (s.roleMappings = [{ group: 'admins', role: 'Root' }])), mentions: 'role' },
  {
    kind: 'DirectorySync',
    what: 'webhook to a plain http:// address',
    make: ds((s) => (s.notifications = { webhooks: [{ name: 'gw', url: 'http://gw.example.com/hook', secretRef: { name: 'h' } }] })),
    mentions: 'url',
  },
  {
    kind: 'DirectorySync',
    what: 'webhook name that is not a DNS label',
    make: ds((s) => (s.notifications = { webhooks: [{ name: 'Gate Way', url: 'https://gw.example.com/hook', secretRef: { name: 'h' } }] })),
    mentions: 'name',
  },
  { kind: 'DirectorySync', what: 'policy rule name with capitals', make: ds((s) => (s.policies = [{ name: 'DB_Access', groups: { names: ['x'] }, resources: [{ address: '10.0.0.0/8' }] }])), mentions: 'name' },
  { kind: 'DirectorySync', what: 'policy rule matching no groups', make: ds((s) => (s.policies = [{ name: 'db', groups: {}, resources: [{ address: '10.0.0.0/8' }] }])), mentions: 'groups' },
  { kind: 'DirectorySync', what: 'policy rule with no resources', make: ds((s) => (s.policies = [{ name: 'db', groups: { names: ['x'] }, resources: [] }])), mentions: 'resources' },
  { kind: 'DirectorySync', what: 'policy rule with an invalid IPv4 address', make: ds((s) => (s.policies = [{ name: 'db', groups: { names: ['x'] }, resources: [{ address: '300.1.1.1' }] }])), mentions: 'address' },
  { kind: 'DirectorySync', what: 'name longer than 63 characters', make: ds(() => undefined, `d${'x'.repeat(70)}`), mentions: '63' },
  { kind: 'Policy', what: 'group with no name, idpName or idpId', make: (b) => ({ ...b, spec: { ...b.spec, group: {} } }), mentions: 'group' },
  { kind: 'Policy', what: 'no resources', make: (b) => ({ ...b, spec: { ...b.spec, resources: [] } }), mentions: 'resources' },
  { kind: 'Policy', what: 'address that is neither IP, CIDR nor DNS name', make: (b) => ({ ...b, spec: { ...b.spec, resources: [{ address: 'db server!' }] } }), mentions: 'address' },
  { kind: 'Policy', what: 'CIDR prefix over 32', make: (b) => ({ ...b, spec: { ...b.spec, resources: [{ address: '10.0.0.0/40' }] } }), mentions: 'address' },
  { kind: 'Policy', what: 'upper-case DNS name', make: (b) => ({ ...b, spec: { ...b.spec, resources: [{ address: 'DB.Example.com' }] } }), mentions: 'address' },
  { kind: 'Policy', what: 'port over 65535', make: (b) => ({ ...b, spec: { ...b.spec, resources: [{ address: '10.0.0.1', ports: ['70000'] }] } }), mentions: 'ports' },
  { kind: 'Policy', what: 'port range from high to low', make: (b) => ({ ...b, spec: { ...b.spec, resources: [{ address: '10.0.0.1', ports: ['8100-8000'] }] } }), mentions: 'ports' },
  { kind: 'Policy', what: 'port that is not a number', make: (b) => ({ ...b, spec: { ...b.spec, resources: [{ address: '10.0.0.1', ports: ['https'] }] } }), mentions: 'ports' },
  { kind: 'Policy', what: 'ports with ICMP', make: (b) => ({ ...b, spec: { ...b.spec, resources: [{ address: '10.0.0.1', ports: ['443'], protocols: ['ICMP'] }] } }), mentions: 'ICMP' },
  { kind: 'Policy', what: 'unknown protocol', make: (b) => ({ ...b, spec: { ...b.spec, resources: [{ address: '10.0.0.1', protocols: ['HTTP'] }] } }), mentions: 'protocols' },
];

function base(kind: Case['kind'], namespace: string): Doc & { spec: Doc } {
  if (kind === 'Policy') {
    return { apiVersion: 'idpsync.io/v1alpha1', kind, metadata: { name: 'bad', namespace }, spec: { group: { name: 'engineering' }, resources: [{ address: '10.0.0.0/8' }] } };
  }
  return {
    apiVersion: 'idpsync.io/v1alpha1',
    kind,
    metadata: { name: 'bad', namespace },
    spec: { provider: { type: 'okta', okta: { domain: 'corp.okta.com', clientId: '0oa1example' } }, credentialsRef: { name: 'okta' } },
  };
}

/** What kubectl prints, on one line. */
function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, ' ');
}

describe('bad input', function () {
  this.timeout(6 * 60_000);
  let ns: string;
  const processes: OperatorProcess[] = [];

  before(async () => {
    ns = await newNamespace('bad-input');
  });

  after(async () => {
    for (const p of processes) await p.kill('SIGKILL');
  });

  it('refuses every invalid DirectorySync and Policy shape with a message that names the field', async () => {
    // The valid bases are accepted: each refusal below is the edit's doing.
    for (const kind of ['DirectorySync', 'Policy'] as const) {
      const ok = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: stringify(base(kind, ns)) });
      expect(ok.code, ok.stderr).to.equal(0);
    }
    const rows: string[] = ['| kind | invalid shape | what `kubectl apply` prints |', '| --- | --- | --- |'];
    const accepted: string[] = [];
    const unclear: string[] = [];
    for (const c of CASES) {
      const result = await kubectl(['apply', '--server-side', '-f', '-'], { input: stringify(c.make(base(c.kind, ns))) });
      const message = oneLine(result.stderr);
      if (result.code === 0) accepted.push(`${c.kind}: ${c.what}`);
      else if (!message.includes(c.mentions)) unclear.push(`${c.kind}: ${c.what}: ${message}`);
      rows.push(`| ${c.kind} | ${c.what} | ${result.code === 0 ? '**accepted**' : '`' + message.replace(/\|/g, '\\|').replace(/`/g, "'") + '`'} |`);
    }
    attach('Admission table (every invalid shape, applied to the real apiserver)', rows.join('\n'));
    report('bad input: admission', { 'invalid shapes tried': CASES.length, refused: CASES.length - accepted.length, 'messages not naming the field': unclear.length }, FILE);
    expect(accepted, 'invalid shapes the apiserver accepted').to.deep.equal([]);
    expect(unclear, 'messages that do not name the field').to.deep.equal([]);
  });

  it('explains Secrets with missing or malformed keys in status, without a crash', async () => {
    const google = new GoogleWorkspaceEmulator(loadFixture(SEED));
    const oktaIdp = new OktaEmulator(loadFixture(SEED));
    await Promise.all([google.start(), oktaIdp.start()]);
    try {
      const g = google.connection();
      const o = oktaIdp.connection();
      const publicOnly = (await import('node:crypto')).createPublicKey(o.secret.privateKey).export({ format: 'pem', type: 'spki' }).toString();
      const secrets: [string, typeof g, Record<string, string>][] = [
        ['google-no-key', g, {}],
        ['google-empty-key', g, { serviceAccountKey: '' }],
        ['google-not-a-key', g, { serviceAccountKey: JSON.stringify({ type: 'service_account', client_email: 'x@example.com' }) }],
        ['okta-no-key', o, { somethingElse: 'x' }],
        ['okta-public-key', o, { privateKey: publicOnly }],
        ['okta-bad-jwk', o, { privateKey: JSON.stringify({ kty: 'RSA', n: 'abc' }) }],
      ];
      for (const [name, conn, data] of secrets) await createDirectory(ns, name, { ...conn, secret: data });
      await createDirectory(ns, 'healthy', g);
      const op = await runOperator({ kubeconfig: await operatorKubeconfigPath(), namespace: ns });
      processes.push(op);
      const rows = ['| Secret | condition the DirectorySync shows |', '| --- | --- |'];
      for (const [name] of secrets) {
        const d = await waitFor(
          async () => {
            const x = await getDirectory(ns, name);
            return x.status?.conditions?.some((c) => c.type === 'Stalled' && c.status === 'True') ? x : undefined;
          },
          { timeoutMs: 90_000, what: `${name} to stall with an explanation` },
        );
        const stalled = d.status!.conditions!.find((c) => c.type === 'Stalled')!;
        rows.push(`| ${name} | ${stalled.reason}: ${stalled.message.replace(/\|/g, '\\|')} |`);
      }
      await waitFor(async () => (await getDirectory(ns, 'healthy')).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), {
        timeoutMs: 90_000,
        what: 'the healthy directory beside them to sync',
      });
      attach('Secrets with missing or malformed keys', rows.join('\n'));
      report('bad input: Secrets', { 'bad Secrets tried': secrets.length, 'explained in status': secrets.length, 'operator restarts': op.alive() ? 0 : 1 }, FILE);
      expect(op.alive()).to.equal(true);
      await op.kill();
    } finally {
      await Promise.all([google.stop(), oktaIdp.stop()]);
    }
  });

  it('survives hostile IdP data: no crash, no collision, no directory blocked', async () => {
    const fixture = loadFixture(SEED);
    const hostile: DirectoryFixture['users'] = [
      { id: 'h-long', login: `${'l'.repeat(300)}@example.com`, firstName: 'L'.repeat(5000), lastName: 'x' },
      { id: 'h-unicode', login: 'zoë.ñúñez+тест@exämple.com', firstName: '😀 Zoë', lastName: 'مرحبا' },
      { id: 'h-control', login: 'ctrl\u0000\u0007\u001b[31m@example.com', firstName: 'a\nb\tc\r', lastName: '\u202e' },
      { id: 'h-case-1', login: 'Casey@Example.com', firstName: 'Casey', lastName: 'Upper' },
      { id: 'h-case-2', login: 'casey@example.com', firstName: 'Casey', lastName: 'Lower' },
      { id: 'h-notk8s', login: '-..--__@@..-', firstName: '../../etc/passwd', lastName: 'a/b' },
      { id: 'h-long', login: 'duplicate-id@example.com', firstName: 'Listed', lastName: 'Twice' },
    ];
    for (const u of hostile) fixture.users.push({ state: 'active', email: u.login, ...u });
    fixture.users.push(structuredClone(fixture.users[0])); // steve, listed twice
    fixture.groups.push(
      { id: 'hg-weird', name: '../Admins/\u0000 😀 '.repeat(40), members: ['h-unicode', 'h-control', 'h-case-1', 'h-case-2', 'h-notk8s', 'h-case-1', 'no-such-user'], groups: ['hg-weird'] },
      { id: 'hg-dup', name: 'Everyone', members: ['h-long'], groups: [] },
    );
    const idp = new GoogleWorkspaceEmulator(fixture);
    await idp.start();
    try {
      await createDirectory(ns, 'hostile', idp.connection());
      const op = await runOperator({ kubeconfig: await operatorKubeconfigPath(), namespace: ns });
      processes.push(op);
      let lastStatus = '';
      const d = await waitFor(
        async () => {
          const x = await getDirectory(ns, 'hostile');
          const ready = x.status?.conditions?.find((c) => c.type === 'Ready');
          lastStatus = JSON.stringify(x.status ?? {}).slice(0, 2000);
          return ready && ready.reason !== 'Reconciling' && (x.status?.lastSyncTime || x.status?.lastAttemptTime) ? x : undefined;
        },
        { timeoutMs: 120_000, what: 'the hostile directory to finish a sync (status: see below)' },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\nstatus: ${lastStatus}\noperator output (tail): ${op.output().slice(-3000)}`);
      });
      const written = (await users(ns)).filter((u: User) => u.spec.directory === 'hostile');
      const ready = d.status!.conditions!.find((c) => c.type === 'Ready')!;
      console.log(`    hostile: Ready ${ready.status} ${ready.reason}: ${ready.message}; skipped: ${JSON.stringify(d.status?.skipped ?? [])}`);
      const names = new Set(written.map((u) => u.metadata.name));
      const ids = new Set(written.map((u) => u.spec.idpId));
      const seedLogins = loadFixture(SEED).users.map((u) => u.login);
      const missingSeed = seedLogins.filter((l) => !written.some((u) => u.spec.login === l));
      const stalled = d.status!.conditions!.some((c) => c.type === 'Stalled' && c.status === 'True');
      report('bad input: hostile IdP data', {
        'hostile records': hostile.length + 3,
        'Users written': written.length,
        'skipped and named': d.status?.skippedCount ?? (d.status?.skipped ?? []).length,
        collisions: written.length - names.size + (written.length - ids.size),
        'ordinary people not written': missingSeed.length,
        'directory blocked': stalled,
        'operator restarts': op.alive() ? 0 : 1,
      }, FILE);
      expect(op.alive(), 'the operator survives').to.equal(true);
      expect(stalled, `the directory is not blocked: ${ready.message}`).to.equal(false);
      expect(names.size, 'one object per User name').to.equal(written.length);
      expect(ids.size, 'one User per IdP id').to.equal(written.length);
      expect(missingSeed, 'ordinary people are written despite the hostile ones').to.deep.equal([]);
      const casey = written.filter((u) => u.spec.login.toLowerCase() === 'casey@example.com');
      expect(casey.length, 'two people whose emails differ only by case are not merged').to.be.oneOf([1, 2]);
      expect(await admin().get<DirectorySync>('DirectorySync', ns, 'hostile')).to.not.equal(undefined);
    } finally {
      await idp.stop();
    }
  });
});
