// CompactCache against a loopback server that speaks the watch protocol: paged loading, reduction,
// ordering of watch events against the writer's own writes, 410 Gone, and resuming a watch.
import { KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CompactCache, isOlder, type CachedObject, type ListPage } from '../../../src/runtime/compact-cache.js';
import { silentLogger } from '../../../src/runtime/logger.js';

const PATH = '/apis/idpsync.io/v1alpha1/namespaces/ns/users';

interface Obj extends CachedObject {
  metadata: { name: string; namespace: string; resourceVersion: string; labels: Record<string, string>; managedFields?: unknown[] };
  spec: { n: number };
}

class WatchServer {
  objects = new Map<string, Obj>();
  rv = 1;
  readonly watchVersions: (string | null)[] = [];
  lists = 0;
  private watchers = new Set<http.ServerResponse>();
  private sockets = new Set<Socket>();
  private readonly server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname !== PATH || url.searchParams.get('watch') !== 'true') return void res.writeHead(404).end();
    this.watchVersions.push(url.searchParams.get('resourceVersion'));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    this.watchers.add(res);
    req.on('close', () => this.watchers.delete(res));
  });

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

  put(name: string, n: number, directory = 'corp'): Obj {
    const existed = this.objects.has(name);
    const obj: Obj = {
      metadata: { name, namespace: 'ns', resourceVersion: String(++this.rv), labels: { dir: directory }, managedFields: [{ manager: 'x' }] },
      spec: { n },
    };
    this.objects.set(name, obj);
    this.send(existed ? 'MODIFIED' : 'ADDED', obj);
    return obj;
  }

  remove(name: string, { silently = false } = {}): void {
    const obj = this.objects.get(name)!;
    this.objects.delete(name);
    if (!silently) this.send('DELETED', { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } });
  }

  send(type: string, object: unknown): void {
    for (const w of this.watchers) w.write(JSON.stringify({ type, object }) + '\n');
  }

  endWatches(): void {
    for (const w of this.watchers) w.end();
    this.watchers.clear();
  }

  watching(): number {
    return this.watchers.size;
  }

  /** Two objects a page, so paging is exercised. */
  listPage = async (token: string | undefined): Promise<ListPage<Obj>> => {
    if (!token) this.lists++;
    const all = [...this.objects.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const start = token ? Number(token) : 0;
    const next = start + 2 < all.length ? String(start + 2) : undefined;
    return { items: structuredClone(all.slice(start, start + 2)), resourceVersion: String(this.rv), continue: next };
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check(), what).to.equal(true);
}

describe('runtime/CompactCache', () => {
  let server: WatchServer;
  let cache: CompactCache<Obj>;

  beforeEach(async () => {
    server = new WatchServer();
    const url = await server.listen();
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    server.put('a', 1);
    server.put('b', 1);
    server.put('c', 1, 'other');
    cache = new CompactCache<Obj>({
      resource: 'users',
      kubeConfig,
      path: PATH,
      listPage: server.listPage,
      reduce: ({ metadata: { managedFields: _m, ...metadata }, ...rest }) => ({ ...rest, metadata }),
      indexKey: (o) => o.metadata.labels.dir,
      logger: silentLogger(),
    });
    cache.start();
    expect(await cache.waitForSync(5000)).to.equal(true);
    await until(() => server.watching() === 1, 'a watch is open');
  });

  afterEach(async () => {
    cache.stop();
    await server.close();
  });

  const names = (dir: string) => cache.select(dir).map((o) => `${o.metadata.name}:${o.spec.n}`).sort();

  it('loads every page, keeps objects without managedFields, and selects them by index', () => {
    expect(names('corp')).to.deep.equal(['a:1', 'b:1']);
    expect(names('other')).to.deep.equal(['c:1']);
    expect(cache.select('corp').every((o) => o.metadata.managedFields === undefined)).to.equal(true);
  });

  it('follows watched additions, changes, deletions and moves between index keys', async () => {
    server.put('d', 1);
    server.put('a', 2);
    server.remove('b');
    server.put('c', 2, 'corp');
    await until(() => names('corp').join() === 'a:2,c:2,d:1', `corp is ${names('corp')}`);
    expect(names('other')).to.deep.equal([]);
  });

  it('keeps what the writer stored over a watch event of an older version', async () => {
    const older = server.objects.get('a')!;
    const newer = { ...older, metadata: { ...older.metadata, resourceVersion: String(server.rv + 5) }, spec: { n: 9 } };
    cache.stored(newer);
    server.send('MODIFIED', { ...older, spec: { n: 7 } });
    server.put('sentinel', 1);
    await until(() => names('corp').includes('sentinel:1'), 'the later event arrived');
    expect(names('corp')).to.include('a:9');
  });

  it('does not bring back what the writer removed from a late event, but sees a re-creation after the deletion', async () => {
    cache.removed('ns', 'a');
    server.send('MODIFIED', server.objects.get('a'));
    server.put('sentinel', 1);
    await until(() => names('corp').includes('sentinel:1'), 'the later event arrived');
    expect(names('corp')).to.not.include('a:1');
    server.remove('a');
    server.put('a', 3);
    await until(() => names('corp').includes('a:3'), 're-created a is cached');
  });

  it('lists again after 410 Gone and drops what disappeared meanwhile', async () => {
    server.remove('b', { silently: true });
    server.send('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
    await until(() => server.lists === 2 && !names('corp').includes('b:1'), 'relisted without b');
    expect(names('corp')).to.deep.equal(['a:1']);
  });

  it('resumes a watch the apiserver ended from the last version seen, without listing again', async () => {
    server.put('a', 4);
    await until(() => names('corp').includes('a:4'), 'change seen');
    const seen = String(server.rv);
    server.endWatches();
    await until(() => server.watchVersions.length === 2, 'watching again');
    expect(server.watchVersions[1]).to.equal(seen);
    expect(server.lists).to.equal(1);
  });

  it('orders etcd resourceVersions numerically, and never calls an opaque one older', () => {
    expect(isOlder('9', '10')).to.equal(true);
    expect(isOlder('10', '9')).to.equal(false);
    expect(isOlder('10', '10')).to.equal(false);
    expect(isOlder('abc', '10')).to.equal(false);
  });
});
