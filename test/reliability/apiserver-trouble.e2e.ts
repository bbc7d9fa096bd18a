// An apiserver in trouble, between `idpsync run` (its own process) and the real apiserver: 429s from
// API Priority and Fairness on every idpsync.io request for a while, 409 conflicts on User writes, and
// watches cut and then refused with 410 Gone. After each, a change in the IdP must reach the cluster
// with the same operator process, never restarted.
import { expect } from 'chai';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { loadFixture } from '../emulators/fixture.js';
import type { InjectedAnswer, RecordedRequest } from '../e2e/harness/proxy.js';
import { countingKubeConfig, newNamespace, operatorKubeConfig, waitFor, type CountingClient } from '../e2e/harness/index.js';
import { createDirectory, syncNow, users, waitForCondition } from '../e2e/support/operator.js';
import { runOperator, type OperatorProcess } from './support/operator-process.js';
import { report } from './support/report.js';

const FILE = 'apiserver-trouble.e2e.ts';
const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;
const IDPSYNC_API = /^\/apis\/idpsync\.io\//;
const USER_WRITE = /^\/apis\/idpsync\.io\/v1alpha1\/namespaces\/[^/]+\/users\//;

function status(code: number, reason: string, message: string): unknown {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** Answers the next `count` requests that `matches` with `answer`, then lets everything through. */
function injectNext(wire: CountingClient, count: number, matches: (r: RecordedRequest) => boolean, answer: InjectedAnswer): { injected: () => number } {
  let injected = 0;
  wire.proxy.answerInstead = (r) => {
    if (injected >= count || !matches(r)) return undefined;
    injected++;
    return answer;
  };
  return { injected: () => injected };
}

describe('apiserver trouble: the operator recovers without a restart', function () {
  this.timeout(6 * 60_000);
  const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));
  let ns: string;
  let wire: CountingClient;
  let op: OperatorProcess;

  const setState = (login: string, state: 'active' | 'suspended') => {
    idp.directory.users.find((u) => u.login === login)!.state = state;
  };
  const stateOf = async (login: string) => (await users(ns)).find((u) => u.spec.login === login)?.spec.state;

  /** Makes a change in the IdP, asks for a sync, and returns how long the cluster took to show it. */
  async function changeAndWait(login: string, state: 'active' | 'suspended', what: string): Promise<number> {
    setState(login, state);
    const started = Date.now();
    const want = state === 'active' ? 'Active' : 'Suspended';
    await syncNow(ns, 'corp', 120_000);
    await waitFor(async () => ((await stateOf(login)) === want ? true : undefined), { timeoutMs: 120_000, what });
    return (Date.now() - started) / 1000;
  }

  before(async () => {
    ns = await newNamespace('trouble');
    await idp.start();
    await createDirectory(ns, 'corp', idp.connection());
    wire = await countingKubeConfig(await operatorKubeConfig());
    op = await runOperator({ kubeconfig: wire.kubeconfigPath, namespace: ns });
    await waitForCondition(ns, 'corp', 'Ready', 'True', 90_000);
  });

  after(async () => {
    await op?.kill('SIGKILL');
    await wire?.close();
    await idp.stop();
  });

  it('waits out 429s from API Priority and Fairness, then converges', async () => {
    const apf = injectNext(wire, 15, (r) => IDPSYNC_API.test(r.path) && !r.watch, {
      status: 429,
      headers: { 'retry-after': '1' },
      body: status(429, 'TooManyRequests', 'Too many requests, please try again later.'),
    });
    const seconds = await changeAndWait('alice@company.com', 'suspended', 'alice suspended through the 429s');
    expect(apf.injected()).to.equal(15);
    expect(op.alive(), op.output()).to.equal(true);
    report('apiserver trouble: 429 (APF)', { '429s injected': apf.injected(), 'change reached the cluster, s': seconds.toFixed(1), 'operator restarts': 0 }, FILE);
  });

  it('retries User writes refused with 409 Conflict, then converges', async () => {
    const conflicts = injectNext(wire, 6, (r) => r.method === 'PATCH' && USER_WRITE.test(r.path), {
      status: 409,
      body: status(409, 'Conflict', 'Operation cannot be fulfilled on users.idpsync.io: the object has been modified; please apply your changes to the latest version and try again'),
    });
    const seconds = await changeAndWait('alice@company.com', 'active', 'alice active again through the conflicts');
    expect(conflicts.injected()).to.be.greaterThan(0);
    expect(op.alive(), op.output()).to.equal(true);
    report('apiserver trouble: 409', { '409s injected': conflicts.injected(), 'change reached the cluster, s': seconds.toFixed(1), 'operator restarts': 0 }, FILE);
  });

  it('re-lists and watches again after its watches are cut and refused with 410 Gone', async () => {
    const gone = injectNext(wire, 3, (r) => r.watch && IDPSYNC_API.test(r.path), {
      status: 410,
      body: status(410, 'Expired', 'too old resource version: 1 (2)'),
    });
    const cut = wire.killWatches();
    expect(cut, 'watches open before the cut').to.be.greaterThan(0);
    await waitFor(async () => (gone.injected() >= 3 && wire.proxy.openWatches > 0 ? true : undefined), { timeoutMs: 90_000, what: 'watches open again after the 410s' });
    // Sync Now is an annotation the operator sees only through its DirectorySync watch.
    const seconds = await changeAndWait('bob@company.com', 'suspended', 'bob suspended after the watches came back');
    expect(op.alive(), op.output()).to.equal(true);
    wire.proxy.answerInstead = undefined;
    report('apiserver trouble: watches cut, then 410 Gone', { 'watches cut': cut, '410s injected': gone.injected(), 'change reached the cluster, s': seconds.toFixed(1), 'operator restarts': 0 }, FILE);
  });
});
