// An apiserver in trouble, between `idpsync run` (its own process) and the real apiserver: 429s from
// API Priority and Fairness on every idpsync.io request for a while, 409 conflicts on User writes,
// watches cut and then refused with 410 Gone, and the kube-apiserver process itself stopped and
// started again. After each, a change in the IdP must reach the cluster with the same operator
// process, never restarted.
import { expect } from 'chai';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { loadFixture } from '../emulators/fixture.js';
import type { InjectedAnswer, RecordedRequest } from '../e2e/harness/proxy.js';
import { countingKubeConfig, newNamespace, operatorKubeConfig, ownControlPlane, waitFor, type CountingClient } from '../e2e/harness/index.js';
import { createDirectory, syncNow, users, waitForCondition } from '../e2e/support/operator.js';
import { runOperator, type OperatorProcess } from './support/operator-process.js';
import { report } from './support/report.js';

const FILE = 'apiserver-trouble.e2e.ts';
const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;
const IDPSYNC_API = /^\/apis\/idpsync\.io\//;
const USER_WRITE = /^\/apis\/idpsync\.io\/v1alpha1\/namespaces\/[^/]+\/users\//;

/** Sum of a Prometheus counter over all its label sets. */
function counterTotal(metrics: string, name: string): number {
  return metrics
    .split('\n')
    .filter((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

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

  it('keeps running through a kube-apiserver process restart: informers watch again and a suspension reaches the cluster', async function () {
    const controlPlane = ownControlPlane();
    if (!controlPlane) this.skip();
    const watchesBefore = wire.proxy.openWatches;
    expect(watchesBefore, 'watches open before the restart').to.be.greaterThan(0);
    const watchedPaths = new Set(wire.proxy.requests.filter((r) => r.watch && IDPSYNC_API.test(r.path)).map((r) => r.path));
    const restartsBefore = counterTotal(await op.metrics(), 'idpsync_informer_restarts_total');
    const requestsBefore = wire.proxy.requests.length;
    /** Paths of the idpsync.io watches the restarted apiserver has accepted. */
    const rewatched = () => new Set(wire.proxy.requests.slice(requestsBefore).filter((r) => r.watch && r.status === 200 && IDPSYNC_API.test(r.path)).map((r) => r.path));

    const { stoppedMs, readyMs } = await controlPlane!.restartApiServer();
    const backAt = Date.now();
    // Every resource watched before the restart is watched again (each informer re-listed and re-watched).
    const watchingAgain = waitFor(() => ([...watchedPaths].every((p) => rewatched().has(p)) ? Date.now() : undefined), {
      timeoutMs: 120_000,
      intervalMs: 100,
      what: `watches of ${[...watchedPaths].join(', ')} accepted by the restarted apiserver`,
    });
    setState('john@company.com', 'suspended');
    await syncNow(ns, 'corp', 120_000);
    await waitFor(async () => ((await stateOf('john@company.com')) === 'Suspended' ? true : undefined), { timeoutMs: 120_000, what: 'john suspended after the restart' });
    const changedAfterS = (Date.now() - backAt) / 1000;
    const watchingAt = await watchingAgain;

    const restarts = counterTotal(await op.metrics(), 'idpsync_informer_restarts_total') - restartsBefore;
    expect(op.alive(), op.output()).to.equal(true);
    report('apiserver trouble: kube-apiserver process restart', {
      'apiserver stopped in s (SIGTERM → exit)': (stoppedMs / 1000).toFixed(1),
      'apiserver ready again in s (start → /readyz)': (readyMs / 1000).toFixed(1),
      'change reached the cluster, s after the apiserver was back': changedAfterS.toFixed(1),
      'every watch accepted again, s after the apiserver was back': ((watchingAt - backAt) / 1000).toFixed(1),
      'resources watched': watchedPaths.size,
      'informer restarts': restarts,
      'operator restarts': 0,
    }, FILE);
  });
});
