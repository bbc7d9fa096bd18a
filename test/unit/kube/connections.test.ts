// KubeClient reuses a bounded set of keep-alive connections while client-node keeps doing the
// authentication: client certificates, bearer tokens changed between requests, a rotated certificate.
import { KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { KubeClient } from '../../../src/kube/client.js';
import { MAX_SOCKETS } from '../../../src/kube/connections.js';
import { selfSignedCertificate } from '../../support/tls.js';

interface Seen {
  connection: number;
  clientCn?: string;
  authorization?: string;
}

function clientCertificate(cn: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'idpsync-test-client-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', `/CN=${cn}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('KubeClient connections', function () {
  const serving = selfSignedCertificate();
  let server: https.Server;
  let url: string;
  let alice: { key: string; cert: string };
  let bob: { key: string; cert: string };
  let connections = 0;
  const seen: Seen[] = [];

  before(async function () {
    if (!serving) this.skip();
    alice = clientCertificate('alice');
    bob = clientCertificate('bob');
    server = https.createServer({ ...serving, ca: [alice.cert, bob.cert], requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const socket = req.socket as TLSSocket & { connectionNumber?: number };
      const peer = socket.getPeerCertificate();
      seen.push({
        connection: socket.connectionNumber!,
        clientCn: socket.authorized ? (peer.subject?.CN as string) : undefined,
        authorization: req.headers.authorization,
      });
      const name = decodeURIComponent(req.url!.split('?')[0].split('/').pop()!);
      // A little latency so concurrent requests really overlap.
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ apiVersion: 'idpsync.io/v1alpha1', kind: 'User', metadata: { name, namespace: 'ns' } }));
      }, 2);
    });
    server.on('secureConnection', (socket: TLSSocket & { connectionNumber?: number }) => {
      socket.connectionNumber = ++connections;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
    connections = 0;
  });

  function kubeConfig(user: Record<string, string>): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: url, caData: Buffer.from(serving!.cert).toString('base64') }],
      users: [{ name: 'u', ...user }],
      contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
      currentContext: 'ctx',
    });
    return kc;
  }

  const get = (kube: KubeClient, count: number, parallel: number) =>
    Promise.all(Array.from({ length: parallel }, async (_, worker) => {
      for (let i = worker; i < count; i += parallel) expect((await kube.get('User', 'ns', `u${i}`))?.metadata.name).to.equal(`u${i}`);
    }));

  it('sends 300 requests, 24 at a time, over at most MAX_SOCKETS TLS connections with the client certificate on each', async () => {
    const kube = new KubeClient(kubeConfig({ certData: Buffer.from(alice.cert).toString('base64'), keyData: Buffer.from(alice.key).toString('base64') }));
    await get(kube, 300, 24);
    kube.close();
    expect(seen).to.have.length(300);
    expect(new Set(seen.map((s) => s.clientCn))).to.deep.equal(new Set(['alice']));
    expect(connections).to.be.at.least(2).and.at.most(MAX_SOCKETS);
    expect(new Set(seen.map((s) => s.connection)).size).to.equal(connections);
  });

  it('reuses one connection for sequential requests', async () => {
    const kube = new KubeClient(kubeConfig({ token: 'one' }));
    await get(kube, 50, 1);
    kube.close();
    expect(connections).to.equal(1);
  });

  it('sends a bearer token changed between requests on the next request, over the same connection', async () => {
    const kc = kubeConfig({ token: 'before' });
    const kube = new KubeClient(kc);
    await get(kube, 3, 1);
    (kc.getCurrentUser() as { token?: string }).token = 'after';
    await get(kube, 3, 1);
    kube.close();
    expect(seen.map((s) => s.authorization)).to.deep.equal([...Array(3).fill('Bearer before'), ...Array(3).fill('Bearer after')]);
    expect(connections).to.equal(1);
  });

  it('opens a new connection with the new certificate when the client certificate is rotated', async () => {
    const kc = kubeConfig({ certData: Buffer.from(alice.cert).toString('base64'), keyData: Buffer.from(alice.key).toString('base64') });
    const kube = new KubeClient(kc);
    await get(kube, 3, 1);
    Object.assign(kc.getCurrentUser()!, { certData: Buffer.from(bob.cert).toString('base64'), keyData: Buffer.from(bob.key).toString('base64') });
    await get(kube, 3, 1);
    kube.close();
    expect(seen.map((s) => s.clientCn)).to.deep.equal(['alice', 'alice', 'alice', 'bob', 'bob', 'bob']);
    expect(seen.map((s) => s.connection)).to.deep.equal([1, 1, 1, 2, 2, 2]);
  });

  it('without the pool, client-node opens one connection per request (why connections.ts exists)', async () => {
    const kc = kubeConfig({ token: 'plain' });
    const { CustomObjectsApi } = await import('@kubernetes/client-node');
    const api = kc.makeApiClient(CustomObjectsApi);
    for (let i = 0; i < 5; i++) await api.getNamespacedCustomObject({ group: 'idpsync.io', version: 'v1alpha1', namespace: 'ns', plural: 'users', name: `u${i}` });
    expect(connections).to.equal(5);
  });
});
