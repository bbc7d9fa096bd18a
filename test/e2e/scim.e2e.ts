// SCIM push on the real control plane: an Entra-style client provisions users and a nested group through
// the operator's SCIM server, then disables one user; the same decide() path as a pull sync suspends the
// User, takes it out of every Group and records the revocation, within seconds of the PATCH.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { CoordinationV1Api, EventsV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { ANNOTATIONS, type DirectorySync, type User } from '../../src/api/v1alpha1/index.js';
import { freePort } from '../controlplane/net.js';
import { OPERATOR_NAMESPACE, adminKubeConfig, newNamespace, operatorKubeconfigPath, waitFor } from './harness/index.js';
import { admin, membersByGroup, startTestOperator, users, waitForCondition, type TestOperator } from './support/operator.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('SCIM push (Entra-style client)', function () {
  let op: TestOperator;
  let ns: string;
  let base: string;
  let token: string;

  const scim = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, retryAfter: res.headers.get('retry-after') };
  };

  before(async () => {
    op = await startTestOperator({ scimAddress: '127.0.0.1:0' });
    const port = await op.operator.scim!.listening;
    ns = await newNamespace('scim');
    await admin().apply('DirectorySync', {
      metadata: { name: 'corp', namespace: ns },
      spec: { provider: { type: 'scim', scim: {} }, credentialsRef: { name: 'corp-scim-token' }, interval: '1h' },
    });
    const secret = await waitFor(() => admin().getSecret(ns, 'corp-scim-token'), { timeoutMs: 30_000, intervalMs: 200, what: 'the generated SCIM token Secret' });
    token = Buffer.from(secret.data!.token, 'base64').toString('utf8');
    base = `http://127.0.0.1:${port}/scim/v2/${ns}/corp`;
    await waitForCondition(ns, 'corp', 'Ready', 'True');
  });
  after(() => op?.stop());

  it('provisions users and a nested group, then a disabled user is suspended and revoked within seconds', async () => {
    expect((await scim('GET', '/Users?filter=' + encodeURIComponent('userName eq "0b5c4a52-probe"'))).body.totalResults).to.equal(0);
    const ids: Record<string, string> = {};
    for (const login of ['ada@example.com', 'bob@example.com', 'cy@example.com']) {
      const res = await scim('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
        externalId: login.split('@')[0],
        userName: login,
        active: true,
        emails: [{ primary: true, type: 'work', value: login }],
        name: { givenName: login.split('@')[0], familyName: 'Example' },
        [ENTERPRISE]: { department: 'R&D', manager: null },
      });
      expect(res.status).to.equal(201);
      ids[login] = res.body.id;
    }
    const eng = await scim('POST', '/Groups', { displayName: 'Engineering', externalId: 'eng', members: [] });
    const all = await scim('POST', '/Groups', { displayName: 'Everyone', externalId: 'all', members: [] });
    await scim('PATCH', `/Groups/${eng.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: ids['ada@example.com'] }, { $ref: null, value: ids['bob@example.com'] }] }],
    });
    await scim('PATCH', `/Groups/${all.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Add', path: 'members', value: [{ value: eng.body.id }, { value: ids['cy@example.com'] }] }],
    });

    await waitFor(
      async () => {
        const groups = await membersByGroup(ns);
        return groups.Everyone?.length === 3 && groups.Engineering?.length === 2 ? groups : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'Users and flattened Groups written from the SCIM pushes' },
    );
    expect(await membersByGroup(ns)).to.deep.equal({
      Engineering: ['ada@example.com', 'bob@example.com'],
      Everyone: ['ada@example.com', 'bob@example.com', 'cy@example.com'],
    });

    const disabledAt = Date.now();
    const patched = await scim('PATCH', `/Users/${ids['ada@example.com']}`, { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(patched.status).to.equal(200);
    const ada = await waitFor(
      async () => {
        const u = (await users(ns)).find((x: User) => x.spec.login === 'ada@example.com');
        const inGroups = Object.values(await membersByGroup(ns)).some((members) => members.includes('ada@example.com'));
        return u?.spec.state === 'Suspended' && u.status?.revocations?.length && !inGroups ? u : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'ada Suspended, out of every Group, with a revocation record' },
    );
    const elapsedMs = Date.now() - disabledAt;
    console.log(`      PATCH active "False" → User Suspended, out of every Group, with its revocation record in ${elapsedMs} ms`);
    expect(elapsedMs).to.be.below(10_000);
    expect(ada.spec.groups).to.deep.equal([]);
    expect(ada.status!.revocations!.at(-1)!.reason).to.equal('Suspended');
    expect(ada.status!.revocations!.at(-1)!.groups.length).to.equal(2);
    expect(await membersByGroup(ns)).to.deep.equal({ Engineering: ['bob@example.com'], Everyone: ['bob@example.com', 'cy@example.com'] });
    const event = await waitFor(
      async () => {
        const list = await adminKubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns, fieldSelector: `regarding.name=${ada.metadata.name}` });
        return list.items.find((e) => e.reason === 'UserSuspended');
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'the UserSuspended Event' },
    );
    expect(event.type).to.equal('Warning');
  });

  it('keeps up with a provisioning client: a burst of creates at four requests in flight', async () => {
    const total = 200;
    let next = 0;
    const started = Date.now();
    const statuses: number[] = [];
    let throttled = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < total) {
          const i = next++;
          const body = { userName: `bulk${i}@example.com`, active: true, emails: [{ primary: true, type: 'work', value: `bulk${i}@example.com` }] };
          let res = await scim('POST', '/Users', body);
          // As provisioning clients do: a 429 is sent again after its Retry-After (the server's default
          // limit is 50 requests/s per token with a burst of 100, which a quiet machine outruns).
          while (res.status === 429 && throttled++ < total) {
            expect(Number(res.retryAfter), 'Retry-After on a 429').to.be.at.least(1);
            await new Promise((r) => setTimeout(r, Number(res.retryAfter) * 1000));
            res = await scim('POST', '/Users', body);
          }
          statuses.push(res.status);
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const rate = total / seconds;
    console.log(`      ${total} POST /Users in ${seconds.toFixed(1)} s: ${rate.toFixed(0)} writes/s (${throttled} answered 429 and sent again)`);
    expect(statuses.filter((s) => s !== 201), 'answers other than 201').to.deep.equal([]);
    // Entra ID needs 25 requests/s; the bar here leaves room for a loaded CI machine.
    expect(rate).to.be.above(15);
    await waitFor(async () => ((await users(ns)).length >= total + 3 ? true : undefined), { timeoutMs: 60_000, intervalMs: 500, what: 'the bulk users written' });
  });
});

describe('idpsync run --scim-bind-address', function () {
  it('serves SCIM from the operator process, and a push becomes a User', async () => {
    const ns = await newNamespace('scimcli');
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;
    const args = ['--import', 'tsx', cli, 'run', '--kubeconfig', await operatorKubeconfigPath(), '--namespace', ns, '--metrics-bind-address', '127.0.0.1:0', '--scim-bind-address', `127.0.0.1:${port}`, '--scim-insecure-http'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await admin().apply('DirectorySync', {
        metadata: { name: 'corp', namespace: ns },
        spec: { provider: { type: 'scim', scim: {} }, credentialsRef: { name: 'corp-scim-token' }, interval: '1h' },
      });
      const secret = await waitFor(() => admin().getSecret(ns, 'corp-scim-token'), { timeoutMs: 60_000, intervalMs: 250, what: 'the token Secret' });
      const token = Buffer.from(secret.data!.token, 'base64').toString('utf8');
      const base = `http://127.0.0.1:${port}/scim/v2/${ns}/corp`;
      expect((await fetch(`${base}/Users`)).status).to.equal(401);
      const created = await fetch(`${base}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'user-agent': 'Okta SCIM Client 1.0.0' },
        body: JSON.stringify({ userName: 'dee@example.com', active: true, password: 'p4ss!', groups: [] }),
      });
      expect(created.status).to.equal(201);
      const user = await waitFor(async () => (await users(ns)).find((u: User) => u.spec.login === 'dee@example.com'), { timeoutMs: 30_000, intervalMs: 200, what: 'the pushed User' });
      expect(user.spec.state).to.equal('Active');
    } catch (err) {
      console.log(output.slice(-3000));
      throw err;
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('SCIM on two replicas, one leading', function () {
  const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
  interface Replica {
    child: ChildProcess;
    output: () => string;
    base: string;
    exited: Promise<void>;
  }
  const replicas: Replica[] = [];
  let ns: string;

  const startReplica = async (): Promise<Replica> => {
    const port = await freePort();
    const args = ['--import', 'tsx', CLI, 'run', '--kubeconfig', await operatorKubeconfigPath(), '--namespace', ns, '--leader-elect', '--leader-election-namespace', OPERATOR_NAMESPACE];
    args.push('--metrics-bind-address', '127.0.0.1:0', '--scim-bind-address', `127.0.0.1:${port}`, '--scim-insecure-http');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const replica = { child, output: () => output, base: `http://127.0.0.1:${port}/scim/v2`, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
    replicas.push(replica);
    return replica;
  };
  const holder = () =>
    adminKubeConfig()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: OPERATOR_NAMESPACE, name: 'idpsync-operator' })
      .then((l) => l.spec?.holderIdentity || undefined, () => undefined);

  before(async () => {
    ns = await newNamespace('scimha');
  });
  after(async () => {
    for (const r of replicas) r.child.kill('SIGTERM');
    await Promise.all(replicas.map((r) => r.exited));
  });

  it('accepts writes on the replica that does not lead; the leader turns them into Users at once', async function () {
    try {
      const leader = await startReplica();
      await waitFor(() => (/"controller started"/.test(leader.output()) ? true : undefined), { timeoutMs: 60_000, intervalMs: 250, what: 'the first replica to lead' });
      const leaseHolder = await holder();
      await admin().apply('DirectorySync', {
        metadata: { name: 'corp', namespace: ns },
        spec: { provider: { type: 'scim', scim: {} }, credentialsRef: { name: 'corp-scim-token' }, interval: '1h' },
      });
      const secret = await waitFor(() => admin().getSecret(ns, 'corp-scim-token'), { timeoutMs: 30_000, intervalMs: 250, what: 'the token Secret (made by the leader)' });
      const token = Buffer.from(secret.data!.token, 'base64').toString('utf8');
      await waitForCondition(ns, 'corp', 'Ready', 'True');

      const follower = await startReplica();
      const call = (replica: Replica) => async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${replica.base}/${ns}/corp${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : undefined };
      };
      const viaFollower = call(follower);
      const viaLeader = call(leader);
      await waitFor(async () => ((await viaFollower('GET', '/ServiceProviderConfig').catch(() => ({ status: 0 }))).status === 200 ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: 'the second replica serving SCIM',
      });
      expect(await holder(), 'the first replica still leads').to.equal(leaseHolder);

      const pushedAt = Date.now();
      const erin = await viaFollower('POST', '/Users', { userName: 'erin@example.com', active: true, emails: [{ primary: true, value: 'erin@example.com' }] });
      expect(erin.status).to.equal(201);
      const ops = await viaFollower('POST', '/Groups', { displayName: 'Ops', members: [{ value: erin.body.id }] });
      expect(ops.status).to.equal(201);
      await waitFor(async () => ((await membersByGroup(ns)).Ops?.includes('erin@example.com') ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'erin in Ops on the cluster, pushed through the replica that does not lead',
      });
      console.log(`      pushed to the replica that does not lead → User in its Group in ${Date.now() - pushedAt} ms`);

      // Both replicas write to the same store; neither loses the other's changes.
      const finn = await viaLeader('POST', '/Users', { userName: 'finn@example.com', active: true });
      expect(finn.status).to.equal(201);
      expect((await viaFollower('PATCH', `/Groups/${ops.body.id}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ value: finn.body.id }] }] })).status).to.equal(204);
      const disabledAt = Date.now();
      expect((await viaFollower('PATCH', `/Users/${erin.body.id}`, { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] })).status).to.equal(200);
      await waitFor(
        async () => {
          const erinUser = (await users(ns)).find((u: User) => u.spec.login === 'erin@example.com');
          const groups = await membersByGroup(ns);
          return erinUser?.spec.state === 'Suspended' && JSON.stringify(groups.Ops) === JSON.stringify(['finn@example.com']) ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: 'erin Suspended and out of Ops, finn in Ops' },
      );
      console.log(`      PATCH active "False" on the replica that does not lead → User Suspended and out of its Group in ${Date.now() - disabledAt} ms`);
      const readBack = await viaLeader('GET', `/Users/${erin.body.id}`);
      expect(readBack.body.active).to.equal(false);
      const ds = await admin().get<DirectorySync>('DirectorySync', ns, 'corp');
      expect(ds?.metadata.annotations?.[ANNOTATIONS.scimStoreChanged], 'the follower told the leader through the annotation').to.be.a('string');
      expect(follower.output()).to.not.contain('"controller started"');
    } catch (err) {
      for (const r of replicas) console.log(r.output().slice(-3000));
      throw err;
    }
  });
});
