import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import { reuseConnections } from '../../../src/kube/connections.js';
import { selfSignedCertificate } from '../../support/tls.js';

describe('reuseConnections', () => {
  const pair = selfSignedCertificate();

  async function handshakes(prepare: (kc: KubeConfig) => KubeConfig): Promise<number> {
    let count = 0;
    const server = createServer({ key: pair!.key, cert: pair!.cert }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }));
    });
    server.on('secureConnection', () => count++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caData: Buffer.from(pair!.cert).toString('base64') }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const api = prepare(kc).makeApiClient(CoreV1Api);
    for (let i = 0; i < 3; i++) await api.readNamespace({ name: 'x' });
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    return count;
  }

  it('makes API calls share one TLS connection instead of a handshake each', async function () {
    if (!pair) this.skip();
    expect(await handshakes((kc) => kc)).to.equal(3);
    expect(await handshakes((kc) => reuseConnections(reuseConnections(kc)))).to.equal(1);
  });
});
