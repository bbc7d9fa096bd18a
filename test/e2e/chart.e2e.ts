// The Helm chart with a real helm (scripts/helm/build.sh) against a real, RBAC-enforcing apiserver.
// The chart installs its own CRDs, so these tests run on a control plane of their own, started
// without the idpsync CRDs and RBAC the shared one is given; nothing here touches the shared one.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type, type TObject } from '@sinclair/typebox';
import { expect } from 'chai';
import { renderCrdHelmTemplate } from '../../src/api/crdgen.js';
import { ALL_KINDS } from '../../src/api/v1alpha1/index.js';
import { registry } from '../../src/runtime/metrics.js';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.js';
import { runKubectl, type KubectlResult } from '../controlplane/kubectl.js';
import { kubeconfigYaml } from '../controlplane/kubeconfig.js';
import { startProcess, type Supervised } from '../controlplane/process.js';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { loadFixture } from '../emulators/fixture.js';
import { chartDir, helmTemplate, repoRoot, resolveHelm, runHelm, type HelmResult } from '../../scripts/helm/helm.js';
import { MODES, parseManifests, renderForGitOps, renderMode, type Manifest, type Mode } from '../../scripts/render-manifests.js';
import { cluster } from './harness/cluster.js';
import { waitFor } from './harness/index.js';
import { freePort } from '../controlplane/net.js';
import { parseRunArgs } from '../../src/cli/run-flags.js';

const packageVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const MONITORING_APIS = ['--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor', '--api-versions', 'monitoring.coreos.com/v1/PrometheusRule'];
const CRD_NAMES = ALL_KINDS.map((def) => `${def.plural}.idpsync.io`);
const CLI = join(repoRoot, 'src/cli/main.ts');
const SEED = join(repoRoot, 'test/fixtures/seed-example.yaml');


function find(manifests: Manifest[], kind: string, name?: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
}

function operatorImage(manifests: Manifest[]): string {
  const [deployment] = find(manifests, 'Deployment');
  return deployment!.spec.template.spec.containers[0].image;
}

/** Metric names a PromQL expression reads, histogram series folded into their family. */
function metricNames(promql: string): string[] {
  return [...promql.matchAll(/\b(?:idpsync|process)_[a-z_]+/g)].map(([name]) => name.replace(/_(bucket|sum|count)$/, ''));
}

describe('the Helm chart', () => {
  before(async function () {
    this.timeout(15 * 60_000); // a first run builds helm
    await resolveHelm();
  });

  describe('rendered without a cluster', () => {
    for (const mode of Object.keys(MODES) as Mode[]) {
      it(`passes helm lint --strict (${mode})`, async () => {
        const result = await runHelm(['lint', chartDir, '--strict', ...MODES[mode]]);
        expect(result.code, result.stdout + result.stderr).to.equal(0);
        expect(result.stdout).to.include('1 chart(s) linted, 0 chart(s) failed');
      });
    }

    const typos: [string, string[], RegExp][] = [
      ['a worker count that is not a number', ['--set', 'workers=abc'], /workers.*(integer|number)/is],
      ['a log level the operator does not have', ['--set', 'logLevel=verbose'], /logLevel/],
      ['a misspelt top-level key', ['--set', 'replicas=3'], /replicas/],
      ['a digest that is not sha256', ['--set', 'image.digest=latest'], /digest/],
      ['a memory request that is not a quantity', ['--set', 'resources.requests.memory=lots'], /memory/],
      ['an unknown monitoring switch', ['--set', 'metrics.serviceMonitor.enabled=sometimes'], /serviceMonitor/],
      ['two watched namespaces (the operator takes one)', ['--set', 'watchNamespaces={a,b}'], /one namespace per process/],
      ['SCIM with neither a TLS Secret nor plain HTTP asked for by name', ['--set', 'scim.enabled=true'], /scim.enabled needs scim.tls.secretName .* or scim.insecureHttp=true/],
      ['SCIM with both a TLS Secret and plain HTTP', ['--set', 'scim.enabled=true', '--set', 'scim.insecureHttp=true', '--set', 'scim.tls.secretName=scim-tls'], /cannot be combined/],
      ['a SCIM Ingress without a host', ['--set', 'scim.enabled=true', '--set', 'scim.insecureHttp=true', '--set', 'scim.ingress.enabled=true'], /scim.ingress.host is required/],
      ['a negative SCIM rate limit', ['--set', 'scim.rateLimit=-1'], /rateLimit/],
    ];
    for (const [what, flags, message] of typos) {
      it(`refuses ${what}`, async () => {
        const result = await runHelm(['template', 'idpsync', chartDir, ...flags]);
        expect(result.code, `helm template ${flags.join(' ')} rendered:\n${result.stdout.slice(0, 500)}`).to.not.equal(0);
        expect(result.stderr).to.match(message);
      });
    }

    it('runs the image idpsync:<package version> by default; a registry prefixes it, a digest wins over the tag', async () => {
      expect(operatorImage(parseManifests(await helmTemplate('idpsync', 'idpsync-system')))).to.equal(`idpsync:${packageVersion}`);
      const mirrored = await helmTemplate('idpsync', 'idpsync-system', ['--set', 'image.registry=registry.example.com/mirror', '--set', 'image.tag=1.2.3']);
      expect(operatorImage(parseManifests(mirrored))).to.equal('registry.example.com/mirror/idpsync:1.2.3');
      const digest = `sha256:${'ab'.repeat(32)}`;
      const pinned = await helmTemplate('idpsync', 'idpsync-system', ['--set', 'image.tag=1.2.3', '--set', `image.digest=${digest}`]);
      expect(operatorImage(parseManifests(pinned))).to.equal(`idpsync@${digest}`);
    });

    it('grants cluster-wide mode a ClusterRole, namespaced mode a Role in the watched namespace only', async () => {
      const clusterWide = await renderMode('cluster-wide');
      expect(find(clusterWide, 'ClusterRole').map((m) => m.metadata.name)).to.have.members(['idpsync-idpsync-system', 'idpsync-view', 'idpsync-edit']);
      expect(find(clusterWide, 'ClusterRoleBinding').map((m) => m.metadata.name)).to.deep.equal(['idpsync-idpsync-system']);

      const namespaced = await renderMode('namespaced');
      expect(find(namespaced, 'ClusterRoleBinding')).to.deep.equal([]);
      expect(find(namespaced, 'ClusterRole').map((m) => m.metadata.name)).to.have.members(['idpsync-view', 'idpsync-edit']);
      const roles = find(namespaced, 'Role').map((m) => `${m.metadata.namespace}/${m.metadata.name}`);
      expect(roles).to.have.members(['identity/idpsync', 'idpsync-system/idpsync-leader-election']);
      const [operatorRole] = find(namespaced, 'Role', 'idpsync') as any[];
      const [clusterRole] = find(clusterWide, 'ClusterRole', 'idpsync-idpsync-system') as any[];
      expect(operatorRole.rules).to.be.an('array').with.length.greaterThan(3);
      expect(operatorRole.rules).to.deep.equal(clusterRole.rules);
      const args: string[] = find(namespaced, 'Deployment')[0]!.spec.template.spec.containers[0].args;
      expect(args).to.include('--namespace=identity');
    });

    it('renders the ServiceMonitor and PrometheusRule only where the cluster serves them, unless told', async () => {
      const plain = parseManifests(await helmTemplate('idpsync', 'idpsync-system'));
      expect(plain.map((m) => m.kind)).to.not.include.members(['ServiceMonitor', 'PrometheusRule']);

      const served = parseManifests(await helmTemplate('idpsync', 'idpsync-system', MONITORING_APIS));
      const [monitor] = find(served, 'ServiceMonitor');
      expect(monitor?.spec.endpoints[0]).to.include({ port: 'metrics', honorLabels: true });
      expect(find(served, 'PrometheusRule')).to.have.length(1);

      const off = parseManifests(await helmTemplate('idpsync', 'idpsync-system', [...MONITORING_APIS, '--set', 'metrics.serviceMonitor.enabled=false', '--set', 'metrics.prometheusRule.enabled=false']));
      expect(off.map((m) => m.kind)).to.not.include.members(['ServiceMonitor', 'PrometheusRule']);
      const forced = parseManifests(await helmTemplate('idpsync', 'idpsync-system', ['--set', 'metrics.serviceMonitor.enabled=true']));
      expect(find(forced, 'ServiceMonitor')).to.have.length(1);
    });

    it('alerts on failing, stalled and stale syncs and backed-up webhooks, using metrics the operator exports', async () => {
      const rendered = parseManifests(await helmTemplate('idpsync', 'idpsync-system', [...MONITORING_APIS, '--set', 'metrics.prometheusRule.missedIntervals=4']));
      const rules: { alert: string; expr: string }[] = find(rendered, 'PrometheusRule')[0]!.spec.groups.flatMap((g: { rules: unknown[] }) => g.rules);
      const byName = new Map(rules.map((r) => [r.alert, r.expr]));
      expect(byName.get('IdpsyncSyncFailing')).to.match(/idpsync_sync_total\{result="error"\}/);
      expect(byName.get('IdpsyncSyncStalled')).to.match(/idpsync_sync_total\{result="stalled"\}/);
      expect(byName.get('IdpsyncWebhooksBackingUp')).to.include('idpsync_webhook_pending');
      // 4 intervals of the default 600 s.
      expect(byName.get('IdpsyncNoSuccessfulSync')).to.include('idpsync_last_successful_sync_timestamp_seconds').and.include('> 2400');

      const exported = new Set(registry.getMetricsAsArray().map((m) => m.name));
      const used = rules.flatMap((r) => metricNames(r.expr));
      expect(used.filter((name) => !exported.has(name))).to.deep.equal([]);
    });

    it('serves SCIM only when enabled: a port on every replica, a Service, TLS from a mounted Secret the flags name', async () => {
      const off = parseManifests(await helmTemplate('idpsync', 'idpsync-system'));
      expect(find(off, 'Service').map((m) => m.metadata.name)).to.deep.equal(['idpsync-metrics']);
      expect(find(off, 'Deployment')[0]!.spec.template.spec.containers[0].args.join(' ')).to.not.include('--scim');

      const tls = parseManifests(await helmTemplate('idpsync', 'idpsync-system', ['--set', 'scim.enabled=true', '--set', 'scim.tls.secretName=scim-cert', '--set', 'scim.rateLimit=30']));
      const pod = find(tls, 'Deployment')[0]!.spec.template.spec;
      const container = pod.containers[0];
      expect(container.args).to.include.members(['--scim-bind-address=0.0.0.0:8443', '--scim-tls-cert-file=/etc/idpsync/scim-tls/tls.crt', '--scim-tls-key-file=/etc/idpsync/scim-tls/tls.key', '--scim-rate-limit=30']);
      expect(container.args).to.not.include('--scim-insecure-http');
      expect(container.ports).to.deep.include({ name: 'scim', containerPort: 8443, protocol: 'TCP' });
      expect(container.volumeMounts).to.deep.include({ name: 'scim-tls', mountPath: '/etc/idpsync/scim-tls', readOnly: true });
      expect(pod.volumes).to.deep.include({ name: 'scim-tls', secret: { secretName: 'scim-cert' } });
      const [service] = find(tls, 'Service', 'idpsync-scim');
      expect(service!.spec.selector).to.deep.equal(find(tls, 'Deployment')[0]!.spec.selector.matchLabels);
      expect(service!.spec.ports).to.deep.equal([{ name: 'scim', port: 443, targetPort: 'scim', protocol: 'TCP', appProtocol: 'https' }]);
      expect(find(tls, 'Ingress')).to.deep.equal([]);
      expect(find(tls, 'Certificate')).to.deep.equal([]);

      // The flags the chart passes are flags the operator accepts (plain HTTP: no certificate files to find here).
      const plain = parseManifests(await helmTemplate('idpsync', 'idpsync-system', ['--set', 'scim.enabled=true', '--set', 'scim.insecureHttp=true']));
      const plainArgs: string[] = find(plain, 'Deployment')[0]!.spec.template.spec.containers[0].args;
      expect(parseRunArgs(plainArgs.slice(1), {})).to.deep.include({ scimAddress: '0.0.0.0:8443', scimLimits: { ratePerSecond: 50, burst: 100 } });
      expect(find(plain, 'Deployment')[0]!.spec.template.spec.volumes.map((v: { name: string }) => v.name)).to.not.include('scim-tls');
    });

    it('exposes SCIM through an optional Ingress, with a cert-manager Certificate for the pods when asked', async () => {
      const rendered = parseManifests(
        await helmTemplate('idpsync', 'idpsync-system', [
          ...['--set', 'scim.enabled=true', '--set', 'scim.tls.certManager.enabled=true', '--set', 'scim.tls.certManager.issuerRef.name=internal-ca'],
          ...['--set', 'scim.ingress.enabled=true', '--set', 'scim.ingress.className=nginx', '--set', 'scim.ingress.host=scim.example.com'],
          ...['--set', 'scim.ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/backend-protocol=HTTPS'],
          ...['--set', 'scim.ingress.tls[0].secretName=scim-public', '--set', 'scim.ingress.tls[0].hosts[0]=scim.example.com'],
        ]),
      );
      const [certificate] = find(rendered, 'Certificate', 'idpsync-scim');
      expect(certificate!.spec).to.deep.include({ secretName: 'idpsync-scim-tls', issuerRef: { name: 'internal-ca', kind: 'Issuer', group: 'cert-manager.io' } });
      expect(certificate!.spec.dnsNames).to.deep.equal(['idpsync-scim.idpsync-system.svc', 'idpsync-scim.idpsync-system.svc.cluster.local', 'scim.example.com']);
      expect(find(rendered, 'Deployment')[0]!.spec.template.spec.volumes).to.deep.include({ name: 'scim-tls', secret: { secretName: 'idpsync-scim-tls' } });
      const [ingress] = find(rendered, 'Ingress', 'idpsync-scim');
      expect(ingress!.metadata.annotations).to.deep.equal({ 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' });
      expect(ingress!.spec.ingressClassName).to.equal('nginx');
      expect(ingress!.spec.tls).to.deep.equal([{ secretName: 'scim-public', hosts: ['scim.example.com'] }]);
      expect(ingress!.spec.rules).to.deep.equal([
        { host: 'scim.example.com', http: { paths: [{ path: '/scim/v2', pathType: 'Prefix', backend: { service: { name: 'idpsync-scim', port: { name: 'scim' } } } }] } },
      ]);
      for (const mode of Object.keys(MODES) as Mode[]) {
        const lint = await runHelm(['lint', chartDir, '--strict', ...MODES[mode], '--set', 'scim.enabled=true', '--set', 'scim.tls.secretName=scim-cert', '--set', 'scim.ingress.enabled=true', '--set', 'scim.ingress.host=scim.example.com']);
        expect(lint.code, lint.stdout + lint.stderr).to.equal(0);
      }
    });

    it('ships a Grafana dashboard ConfigMap for the sidecar, reading only exported metrics', async () => {
      const rendered = parseManifests(await helmTemplate('idpsync', 'idpsync-system', ['--set', 'metrics.grafanaDashboard.enabled=true']));
      const [configMap] = find(rendered, 'ConfigMap', 'idpsync-dashboard');
      expect(configMap?.metadata.labels).to.include({ grafana_dashboard: '1' });
      const dashboard = JSON.parse((configMap as unknown as { data: Record<string, string> }).data['idpsync.json']!) as { panels: { targets: { expr: string }[] }[] };
      const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr)));
      expect(used.length).to.be.greaterThan(10);
      const exported = new Set(registry.getMetricsAsArray().map((m) => m.name));
      expect([...new Set(used)].filter((name) => !exported.has(name))).to.deep.equal([]);
      expect(find(parseManifests(await helmTemplate('idpsync', 'idpsync-system')), 'ConfigMap')).to.deep.equal([]);
    });

    for (const mode of Object.keys(MODES) as Mode[]) {
      it(`examples/gitops/overlays/${mode} builds (kubectl kustomize) to exactly what the chart renders`, async () => {
        const built = await runKubectl(join(cluster().binDir, 'kubectl'), ['kustomize', join(repoRoot, 'examples/gitops/overlays', mode)], { kubeconfig: '/dev/null' });
        expect(built.code, built.stderr).to.equal(0);
        const key = (m: Manifest): string => `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;
        const byKey = (ms: Manifest[]): Map<string, Manifest> => new Map(ms.map((m) => [key(m), m]));
        const fromKustomize = byKey(parseManifests(built.stdout).filter((m) => m.kind !== 'Namespace'));
        const fromChart = byKey(await renderForGitOps(mode));
        expect([...fromKustomize.keys()]).to.have.members([...fromChart.keys()]);
        for (const [k, m] of fromChart) expect(fromKustomize.get(k), k).to.deep.equal(m);
      });
    }
  });

  describe('on a real apiserver', () => {
    let cp: ControlPlane;
    let aggregation: Supervised | undefined;
    let scratch: string;
    const kubectl = (args: string[], input?: string): Promise<KubectlResult> =>
      runKubectl(join(cp.binDir, 'kubectl'), args, { kubeconfig: cp.kubeconfigPath, input, timeoutMs: 120_000 });
    const helm = (args: string[]): Promise<HelmResult> => runHelm(args, { kubeconfig: cp.kubeconfigPath, timeoutMs: 180_000 });
    const ok = async (result: Promise<KubectlResult | HelmResult>): Promise<string> => {
      const r = await result;
      expect(r.code, `${r.stderr}\n${r.stdout}`).to.equal(0);
      return r.stdout;
    };
    const getJson = async <T = any>(args: string[]): Promise<T> => JSON.parse(await ok(kubectl(['get', ...args, '-o', 'json']))) as T;
    const exists = async (args: string[]): Promise<boolean> => {
      const r = await kubectl(['get', ...args, '-o', 'name']);
      if (r.code !== 0 && !/NotFound/.test(r.stderr)) throw new Error(r.stderr);
      return r.code === 0;
    };

    before(async function () {
      this.timeout(5 * 60_000);
      cp = await startControlPlane({ installIdpsync: false, binDir: cluster().binDir });
      scratch = mkdtempSync(join(tmpdir(), 'idpsync-chart-'));
      // The control plane runs only the garbage collector and namespace controllers; folding
      // aggregated ClusterRoles into view/edit/admin is another controller's job.
      aggregation = startProcess(
        'kube-controller-manager (clusterrole aggregation)',
        join(cp.binDir, 'kube-controller-manager'),
        [`--kubeconfig=${cp.kubeconfigPath}`, '--leader-elect=false', '--secure-port=0', '--controllers=clusterrole-aggregation-controller'],
        join(scratch, 'clusterrole-aggregation.log'),
      );
      for (const ns of ['idpsync-system', 'identity', 'idpsync-second', 'team-a-operator', 'team-a', 'team-b']) await ok(kubectl(['create', 'namespace', ns]));
    });

    after(async function () {
      this.timeout(60_000);
      await aggregation?.stop();
      await cp?.stop();
      if (cp && !process.env.IDPSYNC_E2E_KEEP) rmSync(cp.dir, { recursive: true, force: true });
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    for (const mode of Object.keys(MODES) as Mode[]) {
      it(`accepts the ${mode} rendering and its Kustomize overlay in a server-side dry run`, async () => {
        const rendered = await helmTemplate('idpsync', 'idpsync-system', [...MODES[mode]]);
        const applied = await ok(kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], rendered));
        expect(applied).to.include('customresourcedefinition.apiextensions.k8s.io/users.idpsync.io serverside-applied (server dry run)');
        await ok(kubectl(['apply', '--server-side', '--dry-run=server', '-k', join(repoRoot, 'examples/gitops/overlays', mode)]));
      });
    }

    it('refuses a typo at helm install and creates nothing', async () => {
      const result = await helm(['install', 'typo', chartDir, '-n', 'idpsync-second', '--set', 'workers=abc']);
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.match(/values don't meet the specifications of the schema/);
      expect(await ok(helm(['list', '-A', '-q']))).to.not.include('typo');
    });

    it('installs the CRDs with the release, and kubectl can apply crds/ over them without a conflict', async () => {
      await ok(helm(['install', 'idpsync', chartDir, '-n', 'idpsync-system']));
      for (const name of CRD_NAMES) {
        await ok(kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${name}`]));
        const crd = await getJson(['crd', name]);
        expect(crd.metadata.annotations).to.include({ 'helm.sh/resource-policy': 'keep', 'meta.helm.sh/release-name': 'idpsync' });
      }
      expect(await exists(['clusterrole', 'idpsync-idpsync-system'])).to.equal(true);
      // The way docs/install.md used to upgrade CRDs, and the way a second tool would: no --force-conflicts.
      await ok(kubectl(['apply', '--server-side', '-f', join(repoRoot, 'crds')]));
    });

    it('updates a CRD on helm upgrade, both adding and removing a field', async () => {
      const changedChart = join(scratch, 'idpsync');
      cpSync(chartDir, changedChart, { recursive: true });
      const user = ALL_KINDS.find((def) => def.kind === 'User')!;
      const spec = user.spec as TObject;
      const withNickname = { ...user, spec: { ...spec, properties: { ...spec.properties, nickname: Type.String({ description: 'Added by the chart upgrade test.' }) } } };
      writeFileSync(join(changedChart, 'templates/crds/idpsync.io_users.yaml'), renderCrdHelmTemplate(withNickname));
      const chartYaml = join(changedChart, 'Chart.yaml');
      writeFileSync(chartYaml, readFileSync(chartYaml, 'utf8').replace(/^version: .*$/m, 'version: 0.1.1-upgrade-test'));

      const specProperties = async (): Promise<Record<string, unknown>> =>
        (await getJson(['crd', 'users.idpsync.io'])).spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
      expect(await specProperties()).to.not.have.property('nickname');
      await ok(helm(['upgrade', 'idpsync', changedChart, '-n', 'idpsync-system']));
      expect(await specProperties()).to.have.property('nickname');
      await ok(helm(['upgrade', 'idpsync', chartDir, '-n', 'idpsync-system']));
      expect(await specProperties()).to.not.have.property('nickname');
    });

    it('keeps the CRDs on helm uninstall (crds.keep); a new install adopts them; with crds.keep=false uninstall deletes them', async () => {
      const uninstalled = await ok(helm(['uninstall', 'idpsync', '-n', 'idpsync-system']));
      expect(uninstalled).to.match(/kept due to the resource policy/);
      for (const name of CRD_NAMES) expect(await exists(['crd', name]), name).to.equal(true);
      expect(await exists(['clusterrole', 'idpsync-idpsync-system'])).to.equal(false);
      expect(await exists(['deployment', 'idpsync', '-n', 'idpsync-system'])).to.equal(false);

      // A kept CRD still names its release, so installing the same release again adopts it.
      await ok(helm(['install', 'idpsync', chartDir, '-n', 'idpsync-system']));
      await ok(helm(['upgrade', 'idpsync', chartDir, '-n', 'idpsync-system', '--set', 'crds.keep=false']));
      const crd = await getJson(['crd', 'users.idpsync.io']);
      expect(crd.metadata.annotations ?? {}).to.not.have.property('helm.sh/resource-policy');
      await ok(helm(['uninstall', 'idpsync', '-n', 'idpsync-system']));
      await waitFor(async () => !(await exists(['crd', 'users.idpsync.io'])), { what: 'the CRDs to be deleted with the release', timeoutMs: 60_000 });
    });

    it('adopts CRDs an earlier chart left unmanaged, after the steps in docs/install.md', async () => {
      // What the earlier chart's crds/ folder (or a platform team's kubectl) leaves behind.
      await ok(kubectl(['apply', '--server-side', '-f', join(repoRoot, 'crds')]));
      const refused = await helm(['install', 'idpsync', chartDir, '-n', 'idpsync-system']);
      expect(refused.code).to.not.equal(0);
      expect(refused.stderr).to.match(/invalid ownership metadata/);
      for (const name of CRD_NAMES) {
        await ok(kubectl(['annotate', 'crd', name, 'meta.helm.sh/release-name=idpsync', 'meta.helm.sh/release-namespace=idpsync-system', '--overwrite']));
        await ok(kubectl(['label', 'crd', name, 'app.kubernetes.io/managed-by=Helm', '--overwrite']));
      }
      await ok(helm(['install', 'idpsync', chartDir, '-n', 'idpsync-system']));
      expect((await getJson(['crd', 'users.idpsync.io'])).metadata.annotations).to.include({ 'helm.sh/resource-policy': 'keep' });
      await ok(helm(['uninstall', 'idpsync', '-n', 'idpsync-system']));
    });

    describe('several releases, cluster-wide and namespaced', () => {
      const namespacedSa = 'system:serviceaccount:team-a-operator:idpsync';

      before(async function () {
        this.timeout(5 * 60_000);
        await ok(helm(['install', 'idpsync', chartDir, '-n', 'idpsync-system']));
        const secondRelease = ['--set', 'crds.enabled=false', '--set', 'rbac.aggregatedRoles=false'];
        await ok(helm(['install', 'idpsync', chartDir, '-n', 'idpsync-second', ...secondRelease]));
        await ok(helm(['install', 'idpsync', chartDir, '-n', 'team-a-operator', '--set', 'watchNamespaces={team-a}', ...secondRelease]));
        for (const ns of ['team-a', 'team-b']) {
          await ok(kubectl(['create', 'secret', 'generic', 'idp-credentials', '-n', ns, '--from-literal=token=not-a-real-token']));
        }
      });

      it('gives two cluster-wide releases of the same name their own ClusterRole and binding', async () => {
        for (const ns of ['idpsync-system', 'idpsync-second']) {
          const binding = await getJson(['clusterrolebinding', `idpsync-${ns}`]);
          expect(binding.roleRef.name).to.equal(`idpsync-${ns}`);
          expect(binding.subjects).to.deep.equal([{ kind: 'ServiceAccount', name: 'idpsync', namespace: ns }]);
        }
      });

      it('gives the namespaced release no cluster-wide object, and Roles only where it works', async () => {
        const ownedBy = (items: Manifest[]): string[] =>
          items.filter((m) => m.metadata.annotations?.['meta.helm.sh/release-namespace'] === 'team-a-operator').map((m) => `${m.metadata.namespace ?? ''}/${m.metadata.name}`);
        expect(ownedBy((await getJson(['clusterroles'])).items)).to.deep.equal([]);
        expect(ownedBy((await getJson(['clusterrolebindings'])).items)).to.deep.equal([]);
        expect(ownedBy((await getJson(['roles', '-A'])).items)).to.have.members(['team-a/idpsync', 'team-a-operator/idpsync-leader-election']);
        expect(ownedBy((await getJson(['rolebindings', '-A'])).items)).to.have.members(['team-a/idpsync', 'team-a-operator/idpsync-leader-election']);
      });

      it('lets the namespaced ServiceAccount read Secrets in its watched namespace and nowhere else', async () => {
        const canI = async (verb: string, resource: string, namespaceFlag: string): Promise<string> =>
          (await kubectl(['auth', 'can-i', verb, resource, namespaceFlag, `--as=${namespacedSa}`])).stdout.trim();
        expect(await canI('get', 'secrets', '--namespace=team-a')).to.equal('yes');
        expect(await canI('get', 'secrets', '--namespace=team-b')).to.equal('no');
        expect(await canI('get', 'secrets', '--namespace=team-a-operator')).to.equal('no');
        expect(await canI('list', 'secrets', '--all-namespaces')).to.equal('no');
        expect(await canI('list', 'directorysyncs.idpsync.io', '--namespace=team-a')).to.equal('yes');
        expect(await canI('list', 'directorysyncs.idpsync.io', '--all-namespaces')).to.equal('no');

        const allowed = await kubectl(['get', 'secret', 'idp-credentials', '-n', 'team-a', '-o', 'name', `--as=${namespacedSa}`]);
        expect(allowed.code, allowed.stderr).to.equal(0);
        expect(allowed.stdout.trim()).to.equal('secret/idp-credentials');
        const refused = await kubectl(['get', 'secret', 'idp-credentials', '-n', 'team-b', '-o', 'name', `--as=${namespacedSa}`]);
        expect(refused.code).to.not.equal(0);
        expect(refused.stderr).to.include(`secrets "idp-credentials" is forbidden: User "${namespacedSa}" cannot get resource "secrets" in API group "" in the namespace "team-b"`);
      });

      it('runs the operator as the Deployment would, under the namespaced ServiceAccount, and syncs a directory in its namespace', async function () {
        this.timeout(120_000);
        const token = (await ok(kubectl(['create', 'token', 'idpsync', '-n', 'team-a-operator', '--duration=1h']))).trim();
        const saKubeconfig = join(scratch, 'team-a-operator.kubeconfig');
        writeFileSync(saKubeconfig, kubeconfigYaml({ name: 'team-a-operator', server: cp.server, caPem: readFileSync(cp.caFile, 'utf8'), token }), { mode: 0o600 });

        // The container's arguments from the installed release, the metrics address moved to a free loopback port.
        const released = parseManifests(await ok(helm(['get', 'manifest', 'idpsync', '-n', 'team-a-operator'])));
        const container = find(released, 'Deployment')[0]!.spec.template.spec.containers[0] as { args: string[] };
        expect(container.args).to.include('--namespace=team-a');
        const port = await freePort();
        const args = container.args.map((a) => (a.startsWith('--metrics-bind-address=') ? `--metrics-bind-address=127.0.0.1:${port}` : a));

        const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));
        await idp.start();
        let operator: ChildProcess | undefined;
        let output = '';
        try {
          operator = spawn(process.execPath, ['--import', 'tsx', CLI, ...args, '--kubeconfig', saKubeconfig], {
            env: { ...process.env, POD_NAMESPACE: 'team-a-operator' },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          operator.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
          operator.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

          const conn = idp.connection();
          await ok(kubectl(['create', 'secret', 'generic', 'corp-credentials', '-n', 'team-a', ...Object.entries(conn.secret).map(([k, v]) => `--from-literal=${k}=${v}`)]));
          const directory = {
            apiVersion: 'idpsync.io/v1alpha1',
            kind: 'DirectorySync',
            metadata: { name: 'corp', namespace: 'team-a' },
            spec: { provider: { type: conn.type, [conn.type]: conn.settings, allowInsecureLoopback: true }, credentialsRef: { name: 'corp-credentials' }, interval: '1h' },
          };
          await ok(kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(directory)));
          const ready = await waitFor(
            async () => {
              const ds = await getJson(['directorysync', 'corp', '-n', 'team-a']);
              return (ds.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') && ds;
            },
            { what: 'DirectorySync team-a/corp to be Ready under the namespaced ServiceAccount', timeoutMs: 90_000 },
          );
          expect(ready.status.observedGeneration).to.equal(ready.metadata.generation);
          expect((await getJson(['users.idpsync.io', '-n', 'team-a'])).items.length).to.be.greaterThan(0);
          expect(output, 'no request of the operator was refused').to.not.match(/forbidden/i);
        } catch (err) {
          throw new Error(`${(err as Error).message}\noperator output:\n${output.slice(-3000)}`);
        } finally {
          operator?.kill('SIGTERM');
          await idp.stop();
        }
      });

      it('aggregates idpsync-view and idpsync-edit into the built-in view and edit roles', async () => {
        await ok(kubectl(['create', 'rolebinding', 'viewer', '--clusterrole=view', '--user=jane', '-n', 'team-b']));
        await waitFor(async () => (await kubectl(['auth', 'can-i', 'list', 'users.idpsync.io', '-n', 'team-b', '--as=jane'])).stdout.trim() === 'yes', {
          what: 'the view role to aggregate idpsync-view',
          timeoutMs: 30_000,
        });
        expect((await kubectl(['auth', 'can-i', 'create', 'directorysyncs.idpsync.io', '-n', 'team-b', '--as=jane'])).stdout.trim()).to.equal('no');

        await ok(kubectl(['create', 'rolebinding', 'editor', '--clusterrole=edit', '--user=joe', '-n', 'team-b']));
        const joeCan = async (verb: string, resource: string): Promise<boolean> =>
          (await kubectl(['auth', 'can-i', verb, resource, '-n', 'team-b', '--as=joe'])).stdout.trim() === 'yes';
        // edit takes in view's rules too, once the controller has updated view (it is labelled aggregate-to-edit).
        await waitFor(async () => (await joeCan('create', 'directorysyncs.idpsync.io')) && (await joeCan('list', 'groups.idpsync.io')), {
          what: 'the edit role to aggregate idpsync-edit and idpsync-view',
          timeoutMs: 30_000,
        });
        expect(await joeCan('patch', 'groups.idpsync.io')).to.equal(false);
      });

      it('adds the ServiceMonitor and PrometheusRule on upgrade once the cluster serves their APIs', async () => {
        expect(await exists(['crd', 'servicemonitors.monitoring.coreos.com'])).to.equal(false);
        for (const kind of ['ServiceMonitor', 'PrometheusRule']) await ok(kubectl(['apply', '--server-side', '-f', '-'], monitoringStubCrd(kind)));
        await ok(kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']));
        await ok(helm(['upgrade', 'idpsync', chartDir, '-n', 'idpsync-system']));
        const monitor = await getJson(['servicemonitors.monitoring.coreos.com', 'idpsync', '-n', 'idpsync-system']);
        expect(monitor.spec.endpoints[0].honorLabels).to.equal(true);
        const rule = await getJson(['prometheusrules.monitoring.coreos.com', 'idpsync', '-n', 'idpsync-system']);
        expect(rule.spec.groups[0].rules.map((r: { alert: string }) => r.alert)).to.include.members([
          'IdpsyncSyncFailing',
          'IdpsyncSyncStalled',
          'IdpsyncWebhooksBackingUp',
          'IdpsyncNoSuccessfulSync',
        ]);
      });
    });
  });
});

/** A stand-in for a Prometheus Operator CRD: served, accepting any spec. */
function monitoringStubCrd(kind: string): string {
  const plural = `${kind.toLowerCase()}s`;
  return JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: 'monitoring.coreos.com',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      scope: 'Namespaced',
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  });
}
