// End to end on one machine: the real control plane (etcd, kube-apiserver, kube-controller-manager),
// the Okta emulator serving a generated directory, and `idpsync run` as its own process under the
// operator's least-privilege ServiceAccount. Prints the first sync until Ready, a no-op resync, one
// suspension from Sync Now to the User Suspended and out of every group, IdP calls, apiserver writes
// counted by the apiserver's own /metrics, the operator's peak RSS (VmHWM of the child process,
// reset between phases), and the write ceiling of a bare keep-alive HTTPS client creating the same
// objects in the same run.
// Run: npm run bench -- --e2e [--users 10000] [--groups 1000] [--operator-source DIR] [--operator-node-options '...']
//   [--okta-rate-limit 10000] [--ceiling-concurrency 8[,16...]] [--compiled] [--skip-ceiling]
//   --operator-source runs the operator from another checkout's src/ (e.g. an export of an older commit).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANNOTATIONS, type DirectorySync, type Group, type User } from '../src/api/v1alpha1/index.js';
import { KubeClient } from '../src/kube/client.js';
import { directoryOwnerRef } from '../src/controllers/owners.js';
import { OktaEmulator } from '../test/emulators/okta/emulator.js';
import { generateFixtureDirectory } from '../test/fixtures/generate-directory.js';
import { freeLoopbackPorts } from '../test/controlplane/net.js';
import { setUpCluster, tearDownCluster } from '../test/e2e/harness/cluster.js';
import { adminKubeConfig, newNamespace, operatorKubeconfigPath, waitFor } from '../test/e2e/harness/index.js';
import { createDirectory } from '../test/e2e/support/operator.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const USERS = Number(flag('--users', '10000'));
const GROUPS = Number(flag('--groups', '1000'));
const SOURCE = resolve(flag('--operator-source', fileURLToPath(new URL('..', import.meta.url))));
/** Runs the operator as `npm run build` compiled it (dist/), as the image does, instead of under the tsx loader. */
const COMPILED = args.includes('--compiled');
/** Leaves out the bare client's run (about as long as the first sync at 100k), when only the operator's figures are wanted. */
const SKIP_CEILING = args.includes('--skip-ceiling');
/** The Okta emulator's budget per endpoint family and minute (its default, 10,000, paces a 20,000-group read). */
const OKTA_RATE_LIMIT = Number(flag('--okta-rate-limit', '10000'));
/** Extra Node options for the operator process, e.g. '--max-old-space-size=320' or '--cpu-prof --cpu-prof-dir=/tmp/prof'. */
const OPERATOR_NODE_OPTIONS = flag('--operator-node-options', '').split(' ').filter(Boolean);
/** Writes in flight for the bare client, as the operator's apply workers (a comma-separated list measures each). */
const CEILING_CONCURRENCY = flag('--ceiling-concurrency', '8').split(',').map(Number);
const SYNC_TIMEOUT_MS = 90 * 60_000;

interface Phase {
  seconds: number;
  idpCalls: number;
  writes: Record<string, number>;
  peakRssMiB: number;
  /** Seconds the operator's syncs spent in each step (idpsync_sync_phase_duration_seconds). */
  steps: Record<string, number>;
}

const admin = () => new KubeClient(adminKubeConfig());
/** Writes the benchmark itself sends to idpsync.io objects (the DirectorySync, sync-now annotations), left out of the operator's. */
const ownWrites: Record<string, number> = {};
const ownWrite = (verb: string) => (ownWrites[verb] = (ownWrites[verb] ?? 0) + 1);

async function main(): Promise<void> {
  console.log(`sync end to end — ${USERS} users / ${GROUPS} groups (seed 42), operator from ${SOURCE}, Okta limit ${OKTA_RATE_LIMIT} requests per minute per endpoint family`);
  console.log(`machine: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${new Date().toISOString()}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  await setUpCluster();
  const okta = new OktaEmulator(generateFixtureDirectory({ users: USERS, groups: GROUPS, seed: 42 }));
  okta.rateLimitPerMinute = OKTA_RATE_LIMIT;
  let operator: ChildProcess | undefined;
  try {
    await okta.start();
    const ns = await newNamespace('bench');
    const [metricsPort] = await freeLoopbackPorts(1);
    operator = spawnOperator(ns, await operatorKubeconfigPath(), metricsPort);
    await waitFor(() => fetch(`http://127.0.0.1:${metricsPort}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 120_000, what: 'the operator to be ready' });
    console.log(`operator idle: ${rssMiB(operator.pid!, 'VmRSS')} MiB RSS`);

    const first = await phase(okta, operator.pid!, metricsPort, async () => {
      ownWrite('APPLY');
      await createDirectory(ns, 'corp', okta.connection(), { interval: '24h' });
      await waitFor(async () => readyAfter(await directory(ns), 0), { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 500, what: 'the first sync to be Ready' });
    });
    const ds = await directory(ns);
    report('first sync until Ready', first, `${ds.status?.counts?.users} Users, ${ds.status?.counts?.groups} Groups`);

    const resync = await phase(okta, operator.pid!, metricsPort, () => syncNow(ns));
    report('no-op resync', resync);

    const victim = await pickVictim(ns, okta);
    let revokedAfter = 0;
    const suspension = await phase(okta, operator.pid!, metricsPort, async () => {
      const started = performance.now();
      const user = okta.directory.users.find((u) => u.id === victim.spec.idpId)!;
      user.state = 'suspended';
      const token = await requestSync(ns);
      await waitFor(
        async () => {
          const u = await admin().get<User>('User', ns, victim.metadata.name!);
          return u?.spec.state === 'Suspended' && (u.spec.groups ?? []).length === 0;
        },
        { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 100, what: `${victim.spec.login} Suspended and out of every group` },
      );
      revokedAfter = (performance.now() - started) / 1000;
      // The sync goes on writing (Groups the person leaves) after the User: count its writes to the end.
      await waitFor(async () => (await directory(ns)).status?.lastHandledSyncAt === token, { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 100, what: `sync-now ${token}` });
    });
    console.log(`one suspension (in ${victim.spec.groups?.length} groups), Sync Now → User Suspended and out of every group: ${revokedAfter.toFixed(1)} s`);
    report('  that whole sync', suspension);

    const firstWrites = total(first.writes);
    const operatorRate = firstWrites / first.seconds;
    if (SKIP_CEILING) {
      console.log(`operator first sync: ${firstWrites} writes in ${first.seconds.toFixed(1)} s = ${operatorRate.toFixed(0)} writes/s (write ceiling not measured: --skip-ceiling)`);
      return;
    }
    for (const inFlight of CEILING_CONCURRENCY) {
      const ceiling = await writeCeiling(ns, inFlight);
      console.log(`keep-alive client creating the same ${ceiling.objects} objects (${inFlight} in flight): ${ceiling.seconds.toFixed(1)} s, ${ceiling.rate.toFixed(0)} writes/s`);
      console.log(`operator first sync: ${firstWrites} writes in ${first.seconds.toFixed(1)} s = ${operatorRate.toFixed(0)} writes/s; ratio to the ceiling ${(operatorRate / ceiling.rate).toFixed(2)}`);
    }
  } finally {
    operator?.kill('SIGTERM');
    await okta.stop();
    await tearDownCluster();
  }
}

function spawnOperator(namespace: string, kubeconfig: string, metricsPort: number): ChildProcess {
  const cli = join(SOURCE, COMPILED ? 'dist/src/cli/main.js' : 'src/cli/main.ts');
  if (COMPILED && !existsSync(cli)) throw new Error(`${cli} does not exist: run npm run build in ${SOURCE} first`);
  const child = spawn(
    process.execPath,
    [...OPERATOR_NODE_OPTIONS, ...(COMPILED ? [] : ['--import', 'tsx']), cli, 'run', '--kubeconfig', kubeconfig, '--namespace', namespace, '--metrics-bind-address', `127.0.0.1:${metricsPort}`, '--log-level', 'warn'],
    { cwd: SOURCE, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') console.error(`operator exited: ${code ?? signal}`);
  });
  return child;
}

/** Runs one step and measures it: wall time, IdP requests, apiserver writes by verb, the operator's peak RSS. */
async function phase(okta: OktaEmulator, pid: number, metricsPort: number, step: () => Promise<void>): Promise<Phase> {
  writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM, the peak resident set
  const calls = okta.requests.length;
  const before = await apiserverWrites();
  const ownBefore = { ...ownWrites };
  const stepsBefore = await syncSteps(metricsPort);
  const started = performance.now();
  await step();
  const seconds = (performance.now() - started) / 1000;
  const after = await apiserverWrites();
  const stepsAfter = await syncSteps(metricsPort);
  const steps = Object.fromEntries(Object.entries(stepsAfter).map(([name, s]) => [name, s - (stepsBefore[name] ?? 0)]));
  const own = (verb: string) => (ownWrites[verb] ?? 0) - (ownBefore[verb] ?? 0);
  const writes = Object.fromEntries(
    Object.entries(after).map(([verb, n]) => [verb, n - (before[verb] ?? 0) - own(verb)]).filter(([, n]) => (n as number) > 0),
  );
  return { seconds, idpCalls: okta.requests.length - calls, writes, peakRssMiB: rssMiB(pid, 'VmHWM'), steps };
}

/** Sum of seconds per sync step from the operator's own /metrics. */
async function syncSteps(metricsPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const sums: Record<string, number> = {};
  for (const m of text.matchAll(/^idpsync_sync_phase_duration_seconds_sum\{[^}]*phase="(\w+)"[^}]*\} (\S+)$/gm)) sums[m[1]] = (sums[m[1]] ?? 0) + Number(m[2]);
  return sums;
}

function report(what: string, p: Phase, extra = ''): void {
  const writes = Object.entries(p.writes).map(([verb, n]) => `${verb} ${n}`).join(', ') || 'none';
  const steps = Object.entries(p.steps).filter(([, s]) => s > 0).map(([name, s]) => `${name} ${s.toFixed(2)}`).join(', ');
  console.log(`${what}: ${p.seconds.toFixed(1)} s, ${p.idpCalls} IdP calls, apiserver writes ${total(p.writes)} (${writes}), operator peak RSS ${p.peakRssMiB} MiB${extra ? `; ${extra}` : ''}`);
  if (steps) console.log(`  the operator's sync steps (s): ${steps}`);
}

const total = (w: Record<string, number>) => Object.values(w).reduce((a, b) => a + b, 0);

function rssMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** apiserver_request_total for idpsync.io objects by verb (APPLY, PATCH, POST, PUT, DELETE), from the apiserver's /metrics. */
async function apiserverWrites(): Promise<Record<string, number>> {
  const text = await new Promise<string>((done, fail) => {
    const kc = adminKubeConfig();
    const url = new URL('/metrics', kc.getCurrentCluster()!.server);
    const req = https.get(url, { ca: caOf(), headers: { authorization: `Bearer ${kc.getCurrentUser()!.token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => done(body));
    });
    req.on('error', fail);
  });
  const byVerb: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !line.includes('group="idpsync.io"')) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1];
    if (!verb || ['GET', 'LIST', 'WATCH'].includes(verb)) continue;
    byVerb[verb] = (byVerb[verb] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return byVerb;
}

function caOf(): string {
  const current = adminKubeConfig().getCurrentCluster()!;
  return current.caData ? Buffer.from(current.caData, 'base64').toString('utf8') : readFileSync(current.caFile!, 'utf8');
}

async function directory(ns: string): Promise<DirectorySync> {
  return (await admin().get<DirectorySync>('DirectorySync', ns, 'corp'))!;
}

function readyAfter(ds: DirectorySync, since: number): boolean {
  const ready = ds.status?.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True' && Date.parse(ds.status?.lastSyncTime ?? '') >= since;
}

let syncs = 0;

async function requestSync(ns: string): Promise<string> {
  const token = `bench-${Date.now()}-${syncs++}`;
  ownWrite('PATCH');
  await admin().mergePatch('DirectorySync', ns, 'corp', { metadata: { annotations: { [ANNOTATIONS.syncNow]: token } } });
  return token;
}

async function syncNow(ns: string): Promise<void> {
  const token = await requestSync(ns);
  await waitFor(async () => (await directory(ns)).status?.lastHandledSyncAt === token, { timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 100, what: `sync-now ${token}` });
}

/** An active User in the most groups (a revocation that must leave many Groups). */
async function pickVictim(ns: string, okta: OktaEmulator): Promise<User> {
  const active = new Set(okta.directory.users.filter((u) => u.state === 'active').map((u) => u.id));
  const users = (await admin().listOwned<User>('User', ns, 'corp')).filter((u) => active.has(u.spec.idpId) && u.spec.state === 'Active');
  return users.reduce((a, b) => ((b.spec.groups?.length ?? 0) > (a.spec.groups?.length ?? 0) ? b : a));
}

/**
 * The same Users and Groups the operator wrote, created in a fresh namespace by a plain keep-alive
 * HTTPS client (server-side apply, one request per object, inFlight at once): what this
 * apiserver can take on this machine, measured minutes after the operator's own first sync. The
 * objects are the operator's as stored, metadata included: labels, annotations, a User's status
 * (Users have no status subresource, so the operator writes it in the same request), and an owner
 * reference to a DirectorySync of the same name in the new namespace (suspended, and outside the
 * operator's namespace), so the garbage collector tracks them as it tracks the operator's.
 */
async function writeCeiling(from: string, inFlight: number): Promise<{ objects: number; seconds: number; rate: number }> {
  const kube = admin();
  const to = await newNamespace('ceiling');
  const source = await directory(from);
  await kube.apply('DirectorySync', { metadata: { name: source.metadata.name!, namespace: to }, spec: { ...source.spec, suspend: true } });
  const owner = (await kube.get<DirectorySync>('DirectorySync', to, source.metadata.name!))!;
  const ownerReferences = [directoryOwnerRef(owner)];
  const copy = <T extends User | Group>(o: T) => ({
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name: o.metadata.name, namespace: to, labels: o.metadata.labels, annotations: o.metadata.annotations, ownerReferences },
    spec: o.spec,
    ...(o.kind === 'User' ? { status: o.status } : {}),
  });
  const objects = [
    ...(await kube.list<User>('User', from)).map((u) => ({ plural: 'users', body: copy(u) })),
    ...(await kube.list<Group>('Group', from)).map((g) => ({ plural: 'groups', body: copy(g) })),
  ];
  const kc = adminKubeConfig();
  const server = new URL(kc.getCurrentCluster()!.server);
  const agent = new https.Agent({ keepAlive: true, maxSockets: inFlight, ca: caOf() });
  const token = kc.getCurrentUser()!.token!;
  const apply = (o: (typeof objects)[number]) =>
    new Promise<void>((done, fail) => {
      const path = `/apis/idpsync.io/v1alpha1/namespaces/${to}/${o.plural}/${o.body.metadata.name}?fieldManager=ceiling&force=true`;
      const body = JSON.stringify(o.body);
      const req = https.request(
        { host: server.hostname, port: server.port, path, method: 'PATCH', agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/apply-patch+yaml', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume().on('end', () => (res.statusCode! < 300 ? done() : fail(new Error(`${res.statusCode} for ${path}`))));
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < objects.length) await apply(objects[next++]);
  }));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { objects: objects.length, seconds, rate: objects.length / seconds };
}

await main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
