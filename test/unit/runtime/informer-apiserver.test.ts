// ResilientInformer driven by the real client-node informer against a loopback server that speaks
// just enough of the list/watch protocol to end, reset and refuse watch connections.
import { CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ResilientInformer } from '../../../src/runtime/informer.js';
import { silentLogger } from '../../../src/runtime/logger.js';

const PATH = '/api/v1/namespaces/ns/configmaps';

class TinyApiserver {
  objects = new Map<string, V1ConfigMap>();
  rv = 1;
  failRequests = 0;
  readonly watchRequests: URLSearchParams[] = [];
  private watchers = new Set<http.ServerResponse>();
  private sockets = new Set<Socket>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  async listen(): Promise<string> {
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  put(name: string, data: Record<string, string>): void {
    const existed = this.objects.has(name);
    const cm: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: 'ns', resourceVersion: String(++this.rv) },
      data,
    };
    this.objects.set(name, cm);
    this.broadcast(existed ? 'MODIFIED' : 'ADDED', cm);
  }

  remove(name: string, { silently = false } = {}): void {
    const cm = this.objects.get(name)!;
    this.objects.delete(name);
    const gone = { ...cm, metadata: { ...cm.metadata, resourceVersion: String(++this.rv) } };
    if (!silently) this.broadcast('DELETED', gone);
  }

  /** Ends every watch response cleanly, as the apiserver does when a watch times out. */
  endWatches(): void {
    for (const w of this.watchers) w.end();
    this.watchers.clear();
  }

  /** Drops every connection without a proper end, as when the apiserver restarts. */
  resetConnections(): void {
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
  }

  watcherCount(): number {
    return this.watchers.size;
  }

  private broadcast(type: string, object: V1ConfigMap): void {
    for (const w of this.watchers) w.write(JSON.stringify({ type, object }) + '\n');
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname !== PATH) {
      res.writeHead(404).end();
      return;
    }
    if (this.failRequests > 0) {
      this.failRequests--;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 503, message: 'apiserver is shutting down' }));
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      this.watchRequests.push(url.searchParams);
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      this.watchers.add(res);
      res.on('close', () => this.watchers.delete(res));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMapList',
        metadata: { resourceVersion: String(this.rv) },
        items: [...this.objects.values()],
      }),
    );
  }
}

async function eventually(check: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('runtime/informer against a list/watch server', () => {
  let apiserver: TinyApiserver;
  let informer: ResilientInformer<V1ConfigMap>;
  let events: string[];

  beforeEach(async () => {
    apiserver = new TinyApiserver();
    const server = await apiserver.listen();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const core = kc.makeApiClient(CoreV1Api);
    informer = new ResilientInformer<V1ConfigMap>({
      resource: 'configmaps',
      path: PATH,
      list: () => core.listNamespacedConfigMap({ namespace: 'ns' }),
      kubeConfig: kc,
      logger: silentLogger(),
      minBackoffMs: 5,
      maxBackoffMs: 20,
    });
    events = [];
    informer.on('add', (o) => events.push(`add ${o.metadata!.name}`));
    informer.on('update', (o) => events.push(`update ${o.metadata!.name}=${o.data?.v}`));
    informer.on('delete', (o) => events.push(`delete ${o.metadata!.name}`));
    apiserver.put('a', { v: '1' });
  });

  afterEach(async () => {
    await informer.stop();
    await apiserver.close();
  });

  it('lists, then follows the watch', async () => {
    informer.start();
    expect(await informer.waitForSync()).to.equal(true);
    await eventually(() => apiserver.watcherCount() === 1, 'a watch');
    expect(apiserver.watchRequests[0].get('timeoutSeconds')).to.match(/^\d+$/);
    apiserver.put('b', { v: '1' });
    apiserver.put('a', { v: '2' });
    await eventually(() => events.length === 3, 'watch events');
    expect(events).to.deep.equal(['add a', 'add b', 'update a=2']);
  });

  it('re-watches from its resourceVersion when the apiserver ends the watch', async () => {
    informer.start();
    await informer.waitForSync();
    await eventually(() => apiserver.watcherCount() === 1, 'a watch');
    apiserver.put('a', { v: '2' });
    await eventually(() => events.includes('update a=2'), 'the update');
    apiserver.endWatches();
    await eventually(() => apiserver.watchRequests.length === 2 && apiserver.watcherCount() === 1, 'a new watch');
    expect(apiserver.watchRequests[1].get('resourceVersion')).to.equal(String(apiserver.rv));
    apiserver.put('a', { v: '3' });
    await eventually(() => events.includes('update a=3'), 'an update on the new watch');
  });

  it('recovers when connections are reset and the apiserver refuses requests for a while', async () => {
    informer.start();
    await informer.waitForSync();
    await eventually(() => apiserver.watcherCount() === 1, 'a watch');

    apiserver.failRequests = 3;
    apiserver.resetConnections();
    // Changes the informer cannot see while it is disconnected.
    apiserver.remove('a', { silently: true });
    apiserver.objects.set('c', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'ns', resourceVersion: String(++apiserver.rv) },
    });

    await eventually(() => apiserver.failRequests === 0 && apiserver.watcherCount() === 1, 'a watch after the outage');
    await eventually(() => events.includes('delete a') && events.includes('add c'), 'the missed changes');
    expect(informer.restarts).to.be.at.least(1);
    expect(informer.list().map((o) => o.metadata!.name)).to.deep.equal(['c']);

    apiserver.put('d', { v: '1' });
    await eventually(() => events.includes('add d'), 'events on the new watch');
  });
});
