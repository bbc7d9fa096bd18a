// Leader failover with two `idpsync run --leader-elect` replicas, each talking to the apiserver
// through its own recording proxy, so the writes of each replica are known from the wire; the
// apiserver's audit log records them too, told apart by each replica's User-Agent, and is the
// witness for "never two writers": every idpsync.io write came from the replica that held the Lease
// at that moment by the apiserver's own record. The leader is SIGKILLed: the other takes over
// within the Lease's term and syncs, and the two never both write.
// Then a 30-second apiserver outage: the leader cannot renew, gives up after the renew deadline and
// exits (the client-go design: a leader that cannot prove it leads must stop writing); the replica
// that is left takes the Lease once the apiserver is back and converges.
import { CoordinationV1Api } from '@kubernetes/client-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { loadFixture } from '../emulators/fixture.js';
import type { User } from '../../src/api/v1alpha1/index.js';
import {
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  adminKubeConfig,
  countingKubeConfig,
  newNamespace,
  operatorKubeConfig,
  ownControlPlane,
  waitFor,
  type CountingClient,
} from '../e2e/harness/index.js';
import { createDirectory, syncNow, users, waitForCondition } from '../e2e/support/operator.js';
import { runOperator, type OperatorProcess } from './support/operator-process.js';
import { TcpGate } from './support/tcp-gate.js';
import { report } from './support/report.js';
import { readAuditedWrites, writeInterval, writesByNonHolders, type AuditedWrite } from './support/audit.js';

const FILE = 'failover.e2e.ts';
const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;
const LEASE_SECONDS = 15;
const RETRY_SECONDS = 2;
const OUTAGE_MS = 30_000;
const IDPSYNC_WRITE = /^\/apis\/idpsync\.io\//;
const LEASE = { namespace: OPERATOR_NAMESPACE, name: 'idpsync-operator', leaseDurationMs: LEASE_SECONDS * 1000, username: `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}` };

interface Replica {
  name: string;
  wire: CountingClient;
  gate: TcpGate;
  op: OperatorProcess;
}

async function leaseHolder(): Promise<string | undefined> {
  const lease = await adminKubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: OPERATOR_NAMESPACE, name: 'idpsync-operator' });
  return lease.spec?.holderIdentity || undefined;
}

describe('leader failover and an apiserver outage', function () {
  this.timeout(6 * 60_000);
  const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));
  const replicas: Replica[] = [];
  let ns: string;

  async function startReplica(name: string): Promise<Replica> {
    const wire = await countingKubeConfig(await operatorKubeConfig());
    const port = Number(new URL(wire.proxy.url).port);
    const gate = await TcpGate.start({ host: '127.0.0.1', port });
    const path = wire.kubeconfigPath.replace(/\.kubeconfig$/, `-gate-${gate.port}.kubeconfig`);
    writeFileSync(path, readFileSync(wire.kubeconfigPath, 'utf8').replace(wire.proxy.url, `https://127.0.0.1:${gate.port}`), { mode: 0o600 });
    const op = await runOperator({ kubeconfig: path, namespace: ns, leaderElect: true, leaderElectionNamespace: OPERATOR_NAMESPACE });
    const replica = { name, wire, gate, op };
    replicas.push(replica);
    return replica;
  }

  const writesOf = (r: Replica) => r.wire.writes(IDPSYNC_WRITE).map((w) => w.at.getTime());
  let fileStartedUs = 0;

  /** The apiserver's record since this file started: Lease writes, and writes in this file's namespace. */
  function audited(): AuditedWrite[] {
    const cp = ownControlPlane();
    if (!cp) return [];
    return readAuditedWrites(cp.auditLogPath).filter(
      (w) => w.receivedUs >= fileStartedUs && (w.namespace === ns || (w.namespace === LEASE.namespace && w.name === LEASE.name && w.resource === 'leases')),
    );
  }

  /**
   * The handover from `from` to `to` as the audit log shows it: figures for the report, and a check
   * that no idpsync.io write came from a replica not holding the Lease and that `from`'s last write
   * was answered before `to`'s first was received.
   */
  function auditedHandover(from: string, to: string): { figures: Record<string, number | string>; verify(): void } {
    if (!ownControlPlane()) return { figures: { 'audit log': 'none (cluster not started by this run)' }, verify: () => {} };
    const record = audited();
    const strays = writesByNonHolders(record, LEASE);
    const old = writeInterval(record, from);
    const next = writeInterval(record, to);
    return {
      figures: {
        'audit: writes by the old leader': old?.count ?? 0,
        'audit: writes by the new leader': next?.count ?? 0,
        'audit: gap s (old leader\'s last write → new leader\'s first)': old && next ? Number(((next.firstUs - old.lastUs) / 1e6).toFixed(3)) : 'n/a',
        'audit: writes not by the Lease holder': strays.length,
      },
      verify() {
        expect(
          strays.map(({ write, holder }) => `${write.verb} ${write.resource}/${write.name} by ${write.replica ?? write.userAgent} while ${holder ?? 'nobody'} held the Lease`),
          'idpsync.io writes the apiserver recorded from a replica not holding the Lease',
        ).to.deep.equal([]);
        expect(old, `writes by ${from} in the audit log`).to.not.equal(undefined);
        expect(next, `writes by ${to} in the audit log`).to.not.equal(undefined);
        expect(old!.lastUs, 'the old leader\'s last write (apiserver clock) precedes the new leader\'s first').to.be.lessThan(next!.firstUs);
      },
    };
  }

  before(async () => {
    fileStartedUs = Date.now() * 1000;
    ns = await newNamespace('failover');
    await idp.start();
    await createDirectory(ns, 'corp', idp.connection());
  });

  after(async () => {
    for (const r of replicas) {
      await r.op.kill('SIGKILL');
      await r.gate.close();
      await r.wire.close();
    }
    await idp.stop();
  });

  it('hands over within the Lease term when the leader is killed, never with two writers', async () => {
    const a = await startReplica('a');
    await waitFor(() => leaseHolder().catch(() => undefined), { timeoutMs: 60_000, what: 'replica a to take the Lease' });
    await waitForCondition(ns, 'corp', 'Ready', 'True', 90_000);
    const b = await startReplica('b');
    await waitFor(async () => (await fetch(`http://127.0.0.1:${b.op.port}/readyz`).then((r) => r.status, () => 0)) === 200, { timeoutMs: 60_000, what: 'replica b ready' });
    await syncNow(ns, 'corp');
    expect(writesOf(b), 'writes by the replica that does not lead').to.deep.equal([]);

    const oldHolder = await leaseHolder();
    const killedAt = Date.now();
    a.op.child.kill('SIGKILL');
    await a.op.exited;
    idp.directory.users.find((u) => u.login === 'bob@company.com')!.state = 'suspended';
    const leaseTakenAt = await waitFor(async () => ((await leaseHolder()) !== oldHolder ? Date.now() : undefined), { timeoutMs: 60_000, intervalMs: 100, what: 'b to take the Lease' });
    await syncNow(ns, 'corp', 90_000);
    const takeoverMs = Math.min(...writesOf(b)) - killedAt;
    await waitFor(async () => (await users(ns)).find((u: User) => u.spec.login === 'bob@company.com')?.spec.state === 'Suspended', { timeoutMs: 30_000, what: 'bob suspended by b' });
    const lastOfA = Math.max(...writesOf(a));
    const firstOfB = Math.min(...writesOf(b));
    const newHolder = (await leaseHolder())!;
    const audit = auditedHandover(oldHolder!, newHolder);
    report('leader failover (SIGKILL)', {
      'Lease taken over s after the kill': (leaseTakenAt - killedAt) / 1000,
      'takeover s (kill → first write by the new leader)': takeoverMs / 1000,
      'Lease duration s': LEASE_SECONDS,
      'writes by a': writesOf(a).length,
      'writes by b': writesOf(b).length,
      'overlapping writers': lastOfA < firstOfB ? 0 : 1,
      ...audit.figures,
    }, FILE);
    audit.verify();
    expect(lastOfA, 'the old leader\'s last write precedes the new leader\'s first').to.be.lessThan(firstOfB);
    // The Lease is free LEASE_SECONDS after the dead leader's last renewal; a candidate retries every RETRY_SECONDS.
    expect((leaseTakenAt - killedAt) / 1000, 'seconds from kill to the new leader holding the Lease').to.be.at.most(LEASE_SECONDS + RETRY_SECONDS + 2);
  });

  it('survives a 30-second apiserver outage: the leader exits after the renew deadline, the other replica converges', async () => {
    const b = replicas.find((r) => r.name === 'b')!;
    const bIdentity = (await leaseHolder())!;
    const c = await startReplica('c');
    await waitFor(async () => (await fetch(`http://127.0.0.1:${c.op.port}/readyz`).then((r) => r.status, () => 0)) === 200, { timeoutMs: 60_000, what: 'replica c ready' });
    await new Promise((r) => setTimeout(r, 3000));
    expect(writesOf(c), 'writes by c while b leads').to.deep.equal([]);

    const outageAt = Date.now();
    for (const r of [b, c]) r.gate.block();
    let bExitedAt: number | undefined;
    void b.op.exited.then(() => (bExitedAt = Date.now()));
    idp.directory.users.push({ id: 'u-during', login: 'during@company.com', email: 'during@company.com', firstName: 'During', lastName: 'Outage', state: 'active' });
    idp.directory.groups.find((g) => g.name === 'Engineering')!.members!.push('u-during');
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const bExitCode = b.op.child.exitCode;
    for (const r of [b, c]) r.gate.open();
    const restoredAt = Date.now();
    await syncNow(ns, 'corp', 120_000);
    const converged = await waitFor(async () => ((await users(ns)).some((u) => u.spec.login === 'during@company.com') ? Date.now() : undefined), {
      timeoutMs: 60_000,
      what: 'the person added during the outage to be written',
    });
    const lastOfB = Math.max(...writesOf(b));
    const firstOfC = Math.min(...writesOf(c));
    const cIdentity = (await leaseHolder())!;
    expect(cIdentity, 'the Lease holder after the outage').to.not.equal(bIdentity);
    const audit = auditedHandover(bIdentity, cIdentity);
    report('apiserver outage (30 s)', {
      'leader exited after s': bExitedAt ? (bExitedAt - outageAt) / 1000 : 'did not exit',
      'leader exit code': String(bExitCode),
      'converged s after the apiserver returned': (converged - restoredAt) / 1000,
      'overlapping writers': lastOfB < firstOfC ? 0 : 1,
      ...audit.figures,
    }, FILE);
    audit.verify();
    console.log(`    b's last log lines: ${b.op.output().trim().split('\n').slice(-2).join('\n    ')}`);
    expect(bExitedAt, 'the leader gave up and exited during the outage').to.not.equal(undefined);
    expect(lastOfB).to.be.lessThan(firstOfC);
    expect(c.op.alive(), 'the replica that was left is still running').to.equal(true);
  });
});
