// Crash and restart: `idpsync run` SIGKILLed at seeded random points of its syncs, N times in a row
// (RELIABILITY_CRASHES, default 5), the directory changing between kills (people suspended, added,
// moved between groups). Then one process runs to the end. What it wrote must equal what an
// uninterrupted run writes for the same directory, with no duplicates and no orphans, and every
// revocation's Event and webhook delivered once (Events counted by name, CloudEvents by id).
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { generateFixture } from '../emulators/fixture.js';
import type { DirectorySync, User } from '../../src/api/v1alpha1/index.js';
import { ANNOTATIONS } from '../../src/api/v1alpha1/index.js';
import { adminKubeConfig, countingKubeConfig, newNamespace, operatorKubeConfig, operatorKubeconfigPath, waitFor, type CountingClient } from '../e2e/harness/index.js';
import { admin, createDirectory, getDirectory, syncNow } from '../e2e/support/operator.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { revocationEventId } from '../../src/controllers/directorysync/notifications.js';
import { runOperator, type OperatorProcess } from './support/operator-process.js';
import { integrityProblems, revocationEvents, specsByName, written } from './support/objects.js';
import { pick, seedFromEnv, seededRandom } from './support/random.js';
import { envNumber, report } from './support/report.js';

const FILE = 'crash-restart.e2e.ts';
const POLICIES = [{ name: 'db', groups: { names: ['group-1'] }, resources: [{ address: '10.20.0.0/16' }] }];

describe('crash and restart: SIGKILL at random points of syncs', function () {
  const crashes = envNumber('RELIABILITY_CRASHES', 5, 5);
  this.timeout((3 + crashes) * 90_000);
  const seed = seedFromEnv('crash-restart');
  const random = seededRandom(seed);
  const idp = new GoogleWorkspaceEmulator(generateFixture(30, 6));
  const secret = 'whsec_' + Buffer.from('signing secret of the crash test').toString('base64');
  const processes: OperatorProcess[] = [];
  let receiver: WebhookReceiver;
  let wire: CountingClient;
  let ns: string;
  const owedSuspensions = new Set<string>();

  before(async () => {
    ns = await newNamespace('crash');
    receiver = await startWebhookReceiver({ secret });
    await idp.start();
    await adminKubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'gateway-hook' }, stringData: { signingSecret: secret } } });
    await createDirectory(ns, 'corp', idp.connection(), {
      policies: POLICIES,
      notifications: { webhooks: [{ name: 'gateway', url: receiver.url, secretRef: { name: 'gateway-hook', key: 'signingSecret' }, allowInsecureLoopback: true }] },
    } as Partial<DirectorySync['spec']>);
    wire = await countingKubeConfig(await operatorKubeConfig());
  });

  after(async () => {
    for (const p of processes) await p.kill('SIGKILL');
    await wire?.close();
    await receiver?.close();
    await idp.stop();
  });

  /** A change an operator must carry out: one suspension, one new person, one move between groups. */
  async function changeDirectory(round: number): Promise<string[]> {
    const d = idp.directory;
    const active = d.users.filter((u) => u.state === 'active');
    const suspended = pick(random, active);
    suspended.state = 'suspended';
    // A revocation is owed only to someone who had a User with access; a person suspended before
    // any process wrote them never had one.
    const written = (await admin().list<User>('User', ns)).find((u) => u.spec.login === suspended.login);
    if (written?.spec.state === 'Active') owedSuspensions.add(written.metadata.name!);
    const id = `u-new-${round}`;
    d.users.push({ id, login: `new${round}@example.com`, email: `new${round}@example.com`, firstName: 'New', lastName: String(round), state: 'active' });
    pick(random, d.groups).members!.push(id);
    const mover = pick(random, active.filter((u) => u !== suspended));
    const from = d.groups.find((g) => g.members!.includes(mover.id));
    const to = pick(random, d.groups);
    if (from && from !== to) from.members = from.members!.filter((m) => m !== mover.id);
    if (!to.members!.includes(mover.id)) to.members!.push(mover.id);
    return [`suspend ${suspended.login}`, `add new${round}@example.com`, `move ${mover.login} ${from?.name ?? '-'} → ${to.name}`];
  }

  it(`survives ${crashes} SIGKILLs and converges to what an uninterrupted run writes`, async () => {
    let midSync = 0;
    const killedAfterWrites: number[] = [];
    // Everyone is written once first, so that each round's suspension owes a revocation.
    const first = await runOperator({ kubeconfig: await operatorKubeconfigPath(), namespace: ns });
    processes.push(first);
    await syncNow(ns, 'corp', 120_000);
    await first.kill('SIGKILL');
    for (let round = 1; round <= crashes; round++) {
      const changes = await changeDirectory(round);
      const killAt = 1 + Math.floor(random() * 25);
      wire.proxy.reset();
      await admin().mergePatch('DirectorySync', ns, 'corp', { metadata: { annotations: { [ANNOTATIONS.syncNow]: `crash-${round}` } } });
      const op = await runOperator({ kubeconfig: wire.kubeconfigPath, namespace: ns });
      processes.push(op);
      let writes = 0;
      let lastWriteAt = Date.now();
      let killedAtWrite = false;
      wire.proxy.beforeResponse = (r) => {
        if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method)) return;
        lastWriteAt = Date.now();
        if (++writes === killAt && op.alive()) {
          killedAtWrite = true;
          op.child.kill('SIGKILL');
        }
      };
      // Killed at the chosen write, or (a sync with fewer writes) once the sync is handled.
      await waitFor(
        async () => killedAtWrite || ((await getDirectory(ns, 'corp')).status?.lastHandledSyncAt === `crash-${round}` && Date.now() - lastWriteAt > 3000),
        { timeoutMs: 90_000, intervalMs: 100, what: `round ${round}: the kill at write ${killAt} or the end of the sync (handled, then 3 s without writes)` },
      );
      if (killedAtWrite) midSync++;
      else op.child.kill('SIGKILL');
      await op.exited;
      wire.proxy.beforeResponse = undefined;
      killedAfterWrites.push(writes);
      console.log(`    round ${round}: ${changes.join('; ')}; ${killedAtWrite ? `killed at write ${killAt} of the sync` : `sync ended after ${writes} writes (target ${killAt}), killed idle`}`);
    }

    const final = await runOperator({ kubeconfig: await operatorKubeconfigPath(), namespace: ns });
    processes.push(final);
    await syncNow(ns, 'corp', 120_000);
    await waitFor(
      async () => (await written(ns)).users.every((u) => (u.status?.revocations ?? []).every((r) => r.pending.length === 0)),
      { timeoutMs: 120_000, what: 'every revocation signal delivered' },
    );
    const crashed = await written(ns);

    // The same directory, synced once by a process nobody kills.
    const refNs = await newNamespace('crash-ref');
    await createDirectory(refNs, 'corp', idp.connection(), { policies: POLICIES } as Partial<DirectorySync['spec']>);
    const reference = await runOperator({ kubeconfig: await operatorKubeconfigPath(), namespace: refNs });
    processes.push(reference);
    await syncNow(refNs, 'corp', 120_000);
    const uninterrupted = await written(refNs);

    const problems = integrityProblems(crashed, await getDirectory(ns, 'corp'));
    const a = specsByName(crashed);
    const b = specsByName(uninterrupted);
    const differing = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));

    const events = await revocationEvents(ns);
    const records = crashed.users.flatMap((u: User) => (u.status?.revocations ?? []).map((r) => ({ user: u.metadata.name!, id: r.id, reason: r.reason })));
    const eventMismatches = crashed.users.filter((u) => (events.get(u.metadata.name!) ?? 0) !== (u.status?.revocations ?? []).length).map((u) => u.metadata.name!);
    const hookIds = new Map<string, number>();
    for (const e of receiver.events.filter((x) => !x.type.startsWith('io.idpsync.policy.'))) hookIds.set(e.id, (hookIds.get(e.id) ?? 0) + 1);

    report('crash-restart', {
      seed,
      kills: crashes,
      'kills mid-sync': midSync,
      'objects': Object.keys(a).length,
      'differing from uninterrupted run': differing.length,
      duplicates: problems.filter((p) => p.startsWith('duplicate')).length,
      orphans: problems.filter((p) => !p.startsWith('duplicate')).length,
      'revocations recorded': records.length,
      'revocation Events': [...events.values()].reduce((x, y) => x + y, 0),
      'distinct CloudEvent ids': hookIds.size,
      'webhook re-deliveries (same id)': [...hookIds.values()].reduce((x, y) => x + y, 0) - hookIds.size,
    }, FILE);

    expect(problems, 'duplicates and orphans').to.deep.equal([]);
    expect(differing, 'objects differing from an uninterrupted run').to.deep.equal([]);
    expect(records.filter((r) => r.reason === 'Suspended').map((r) => r.user).sort(), 'one Suspended revocation per suspension of a User').to.deep.equal([...owedSuspensions].sort());
    expect(eventMismatches, 'Users whose revocation Events do not match their records one to one').to.deep.equal([]);
    expect([...hookIds.keys()].sort(), 'one CloudEvent id per revocation').to.deep.equal(records.map((r) => revocationEventId(r.user, r.id)).sort());
    expect(final.alive(), 'the last process still runs').to.equal(true);
  });
});
