// The operator's User-Agent reaches the apiserver on both of client-node's request paths: the
// generated API clients (through KubeClient's pooled connections) and Watch, which informers use.
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeClient } from '../../../src/kube/client.js';
import { identifyAs, operatorUserAgent, replicaOf } from '../../../src/kube/user-agent.js';

describe('operator User-Agent', function () {
  let server: http.Server;
  let url: string;
  const seen: Array<{ path: string; userAgent?: string }> = [];

  before(async () => {
    server = http.createServer((req, res) => {
      seen.push({ path: req.url!, userAgent: req.headers['user-agent'] });
      res.setHeader('content-type', 'application/json');
      if (req.url!.includes('watch=true')) {
        res.end(JSON.stringify({ type: 'ADDED', object: { kind: 'User', metadata: { name: 'u' } } }) + '\n');
        return;
      }
      res.end(JSON.stringify({ apiVersion: 'idpsync.io/v1alpha1', kind: 'User', metadata: { name: 'u', namespace: 'ns' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => server.close());

  function kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'secret-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return kc;
  }

  it('names the program, its version and the replica identity', () => {
    const ua = operatorUserAgent('idpsync-7d9f_1a2b3c4d');
    expect(ua).to.match(/^idpsync\/\d+\.\d+\.\d+ \(\w+\/\w+\) replica\/idpsync-7d9f_1a2b3c4d$/);
    expect(replicaOf(ua)).to.equal('idpsync-7d9f_1a2b3c4d');
    expect(replicaOf('kubectl/v1.31.0 (linux/amd64) kubernetes/abc')).to.equal(undefined);
    expect(replicaOf(undefined)).to.equal(undefined);
  });

  it('is sent by API clients and by watches made from the identified KubeConfig', async () => {
    seen.length = 0;
    const kc = identifyAs(kubeConfig(), operatorUserAgent('replica-one'));
    const kube = new KubeClient(kc);
    await kube.get('User', 'ns', 'u');
    await new Promise<void>((resolve, reject) => {
      new Watch(kc).watch('/apis/idpsync.io/v1alpha1/users', {}, () => {}, (err) => (err ? reject(err) : resolve())).catch(reject);
    });
    kube.close();
    expect(seen.map((s) => s.path.split('?')[0])).to.deep.equal(['/apis/idpsync.io/v1alpha1/namespaces/ns/users/u', '/apis/idpsync.io/v1alpha1/users']);
    expect(seen.map((s) => replicaOf(s.userAgent))).to.deep.equal(['replica-one', 'replica-one']);
  });

  it('leaves a KubeConfig that was not identified with client-node\'s own User-Agent', async () => {
    seen.length = 0;
    const kube = new KubeClient(kubeConfig());
    await kube.get('User', 'ns', 'u');
    kube.close();
    expect(seen).to.have.length(1);
    expect(replicaOf(seen[0].userAgent)).to.equal(undefined);
  });
});
