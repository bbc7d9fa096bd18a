// Secrets never leave the Secret: syncs with known credential values (PEM keys, an API token, a
// webhook signing secret, and malformed values with newlines that make the operator fail and
// explain), then everything emitted is scanned for each value and its encodings: the operator's
// logs at debug level, Events, every object (status included), metrics, webhook requests and
// `idpsync render` output. And a credentialsRef reaches only the DirectorySync's own namespace.
import { CoreV1Api } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { OktaEmulator } from '../emulators/okta/emulator.js';
import { loadFixture } from '../emulators/fixture.js';
import type { EmulatorConnection } from '../emulators/common.js';
import type { DirectorySync } from '../../src/api/v1alpha1/index.js';
import { adminKubeConfig, kubectl, newNamespace, operatorKubeconfigPath, waitFor } from '../e2e/harness/index.js';
import { cluster } from '../e2e/harness/cluster.js';
import { admin, createDirectory, getDirectory, syncNow, waitForCondition } from '../e2e/support/operator.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { runOperator, type OperatorProcess } from './support/operator-process.js';
import { needlesFor, scan, type Needle } from './support/secret-scan.js';
import { report } from './support/report.js';

const FILE = 'secrets.e2e.ts';
const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const run = promisify(execFile);

// Malformed values the operator must refuse without repeating them; each has a newline.
const CANARY_JSON = 'not json: canary-7f3Qz1pLw9sKd2Xv\nsecond-line-canary-Mb4Tn8Rc';
const CANARY_PEM = '-----BEGIN PRIVATE KEY-----\ncanary-pem-body-Zq8Wd3Lr5Nc1Vx\n-----END PRIVATE KEY-----';
const CANARY_TOKEN = 'canary-token-Jk2Hs9Pq4\nheader-injection-canary-Uy6';

describe('secrets never leave the Secret', function () {
  this.timeout(8 * 60_000);
  const google = new GoogleWorkspaceEmulator(loadFixture(SEED));
  const okta = new OktaEmulator(loadFixture(SEED));
  const foreign = new OktaEmulator(loadFixture(SEED));
  const hookSecret = 'whsec_' + Buffer.from('signing secret of the secrets scan').toString('base64');
  let receiver: WebhookReceiver;
  let op: OperatorProcess;
  let ns: string;
  let other: string;
  const needles: Needle[] = [];
  const sources: Record<string, string> = {};

  before(async () => {
    ns = await newNamespace('secrets');
    other = await newNamespace('secrets-other');
    receiver = await startWebhookReceiver({ secret: hookSecret });
    await Promise.all([google.start(), okta.start(), foreign.start()]);
  });

  after(async () => {
    await op?.kill('SIGKILL');
    await receiver?.close();
    await Promise.all([google.stop(), okta.stop(), foreign.stop()]);
  });

  function withSecret(conn: EmulatorConnection, secret: Record<string, string>): EmulatorConnection {
    return { ...conn, secret };
  }

  it('emits no credential value, in any encoding, anywhere', async () => {
    const googleConn = google.connection();
    const oktaKeyConn = okta.connection();
    const oktaTokenConn = okta.connection({ auth: 'apiToken' });
    needles.push(...needlesFor('google private_key', JSON.parse(googleConn.secret.serviceAccountKey).private_key as string));
    needles.push(...needlesFor('okta privateKey', oktaKeyConn.secret.privateKey));
    needles.push(...needlesFor('okta apiToken', oktaTokenConn.secret.apiToken));
    needles.push(...needlesFor('webhook signing secret', hookSecret));
    needles.push(...needlesFor('malformed serviceAccountKey', CANARY_JSON), ...needlesFor('malformed privateKey', CANARY_PEM), ...needlesFor('malformed apiToken', CANARY_TOKEN));

    await adminKubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'gateway-hook' }, stringData: { signingSecret: hookSecret } } });
    const notifications = { webhooks: [{ name: 'gateway', url: receiver.url, secretRef: { name: 'gateway-hook', key: 'signingSecret' }, allowInsecureLoopback: true }] };
    await createDirectory(ns, 'google', googleConn, { notifications } as Partial<DirectorySync['spec']>);
    await createDirectory(ns, 'okta-key', oktaKeyConn);
    await createDirectory(ns, 'okta-token', oktaTokenConn);
    await createDirectory(ns, 'bad-json', withSecret(googleConn, { serviceAccountKey: CANARY_JSON }));
    await createDirectory(ns, 'bad-pem', withSecret(oktaKeyConn, { privateKey: CANARY_PEM }));
    await createDirectory(ns, 'bad-token', withSecret(oktaTokenConn, { apiToken: CANARY_TOKEN }));

    op = await runOperator({ kubeconfig: await operatorKubeconfigPath(), namespace: ns, extraArgs: ['--log-level', 'debug'] });
    for (const name of ['google', 'okta-key', 'okta-token']) await waitForCondition(ns, name, 'Ready', 'True', 120_000);
    const failures: Record<string, string> = {};
    for (const name of ['bad-json', 'bad-pem', 'bad-token']) {
      const ds = await waitFor(
        async () => {
          const d = await getDirectory(ns, name);
          return d.status?.conditions?.some((c) => (c.type === 'Stalled' && c.status === 'True') || (c.type === 'Ready' && c.status === 'False' && c.reason !== 'Reconciling')) ? d : undefined;
        },
        { timeoutMs: 90_000, what: `${name} to explain its failure` },
      );
      const cond = ds.status!.conditions!.find((c) => c.type === 'Stalled' && c.status === 'True') ?? ds.status!.conditions!.find((c) => c.type === 'Ready')!;
      failures[name] = `${cond.reason}: ${cond.message}`;
    }
    // A revocation, so that webhook bodies and revocation Events are part of what is scanned.
    google.directory.users.find((u) => u.login === 'steve@company.com')!.state = 'suspended';
    await syncNow(ns, 'google', 90_000);
    await receiver.waitFor(() => receiver.events.length > 0, 30_000);

    sources['operator logs'] = op.output();
    sources.metrics = await op.metrics();
    const tokenSync = syncSeconds(sources.metrics, 'bad-token');
    sources.events = (await kubectl(['get', 'events.events.k8s.io', '-n', ns, '-o', 'json'])).stdout;
    sources['idpsync objects'] = (await kubectl(['get', 'directorysyncs,users,groups,policies', '-n', ns, '-o', 'json'])).stdout;
    sources['webhook requests'] = receiver.requests.map((r) => JSON.stringify(r.headers) + '\n' + r.body).join('\n');
    sources.render = await renderOutputs(googleConn, oktaTokenConn);

    const hits = scan(sources, needles);
    console.log(`    failures explained: ${JSON.stringify(failures, null, 2).replace(/\n/g, '\n    ')}`);
    report('secrets scan', {
      'credential values': 7,
      'needles (values and encodings)': needles.length,
      'sources scanned': Object.keys(sources).length,
      'bytes scanned': Object.values(sources).reduce((n, t) => n + t.length, 0),
      hits: hits.length,
      // A header value that cannot be sent is not retried: the sync that meets it stalls at once.
      'API token with a line break: syncs before the Stall': tokenSync.count,
      'API token with a line break: sync s': tokenSync.seconds.toFixed(2),
    }, FILE);
    expect(hits, 'credential values found in emitted text').to.deep.equal([]);
    expect(op.alive(), 'the operator survives malformed credentials').to.equal(true);
  });

  it('reads a credentialsRef only in the DirectorySync\'s own namespace', async () => {
    // Valid credentials for another IdP, in another namespace.
    const foreignConn = foreign.connection({ auth: 'apiToken' });
    await adminKubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: other, body: { metadata: { name: 'foreign-creds' }, stringData: foreignConn.secret } });
    const refused = await kubectl(['apply', '--server-side', '-f', '-'], {
      input: stringify({
        apiVersion: 'idpsync.io/v1alpha1',
        kind: 'DirectorySync',
        metadata: { name: 'reach', namespace: ns },
        spec: { provider: { type: 'okta', okta: foreignConn.settings, allowInsecureLoopback: true }, credentialsRef: { name: 'foreign-creds', namespace: other } },
      }),
    });
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.contain('credentialsRef.namespace is not allowed');

    // The same name in the DirectorySync's namespace does not exist: the operator says so, and the
    // other namespace's credentials are never used.
    await admin().apply('DirectorySync', {
      metadata: { name: 'same-name', namespace: ns },
      spec: { provider: { type: 'okta', okta: foreignConn.settings, allowInsecureLoopback: true }, credentialsRef: { name: 'foreign-creds' } },
    });
    const ds = await waitFor(
      async () => {
        const d = await getDirectory(ns, 'same-name');
        return d.status?.conditions?.some((c) => c.status === 'True' && c.type === 'Stalled') || d.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False' && c.reason !== 'Reconciling') ? d : undefined;
      },
      { timeoutMs: 60_000, what: 'same-name to explain the missing Secret' },
    );
    const explained = ds.status!.conditions!.filter((c) => c.status === 'True' || c.type === 'Ready').map((c) => `${c.type} ${c.reason}: ${c.message}`).join('; ');
    console.log(`    same-name: ${explained}`);
    expect(explained).to.match(/foreign-creds/);
    expect(foreign.count('/'), 'requests to the IdP whose credentials live in the other namespace').to.equal(0);
    report('secrets: namespace boundary', { 'cross-namespace credentialsRef refused by the apiserver': true, 'requests with another namespace\'s credentials': foreign.count('/') }, FILE);
  });

  async function renderOutputs(...conns: EmulatorConnection[]): Promise<string> {
    let out = '';
    for (const [i, conn] of [...conns, withSecret(conns[0], { serviceAccountKey: CANARY_JSON }), withSecret(conns[1], { apiToken: CANARY_TOKEN })].entries()) {
      const file = join(cluster().scratchDir, `render-${i}.yaml`);
      const docs = [
        { apiVersion: 'idpsync.io/v1alpha1', kind: 'DirectorySync', metadata: { name: 'r', namespace: 'render' }, spec: { provider: { type: conn.type, [conn.type]: conn.settings, allowInsecureLoopback: true }, credentialsRef: { name: 'r-creds' } } },
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'r-creds', namespace: 'render' }, stringData: conn.secret },
      ];
      writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
      for (const extra of [[], ['-o', 'table'], ['--verify']]) {
        const result = await run(process.execPath, ['--import', 'tsx', CLI, 'render', '-f', file, ...extra], { maxBuffer: 16 << 20 }).then(
          (r) => r.stdout + r.stderr,
          (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
        );
        out += `\n# render ${i} ${extra.join(' ')}\n${result}`;
      }
    }
    return out;
  }
});

/** A directory's syncs so far and their total time, from the operator's idpsync_sync_duration_seconds histogram. */
function syncSeconds(metrics: string, directory: string): { count: number; seconds: number } {
  const value = (series: string) => {
    const line = metrics.split('\n').find((l) => l.startsWith(`idpsync_sync_duration_seconds_${series}{`) && l.includes(`directory="${directory}"`));
    return line ? Number(line.split(' ').pop()) : NaN;
  };
  return { count: value('count'), seconds: value('sum') };
}
