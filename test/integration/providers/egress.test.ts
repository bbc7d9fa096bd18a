import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IdpHttpClient } from '../../../src/providers/http.js';

/** A forward proxy on loopback that records what it was asked for and refuses every tunnel. */
async function startProxy(): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ via: 'proxy' }));
  });
  server.on('connect', (req, socket) => {
    seen.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];

describe('egress through the cluster proxy', () => {
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let saved: Record<string, string | undefined>;
  const clients: IdpHttpClient[] = [];
  const client = (env: Record<string, string>) => {
    for (const name of PROXY_VARS) delete process.env[name];
    Object.assign(process.env, env);
    const c = new IdpHttpClient({ idpName: 'TestIdP', maxAttempts: 1 });
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    saved = Object.fromEntries(PROXY_VARS.map((n) => [n, process.env[n]]));
    proxy = await startProxy();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    proxy.server.closeAllConnections();
    await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
  });

  it('sends http:// requests through HTTP_PROXY (undici tunnels them with CONNECT as well)', async () => {
    await client({ HTTP_PROXY: proxy.url }).getJson('http://idp.example.invalid/api/users').catch(() => undefined);
    expect(proxy.seen).to.deep.equal(['CONNECT idp.example.invalid:80']);
  });

  it('tunnels https:// through HTTPS_PROXY with CONNECT', async () => {
    const err = await client({ HTTPS_PROXY: proxy.url })
      .getJson('https://idp.example.invalid/api/users')
      .then(() => undefined, (e: unknown) => e as Error);
    expect(err, 'the test proxy refuses the tunnel').to.be.instanceOf(Error);
    expect(proxy.seen).to.deep.equal(['CONNECT idp.example.invalid:443']);
  });

  it('goes direct for hosts in NO_PROXY and for loopback', async () => {
    const c = client({ HTTP_PROXY: proxy.url, NO_PROXY: 'idp.example.invalid' });
    await c.getJson('http://idp.example.invalid/api/users').catch(() => undefined);
    const direct = createServer((_req, res) => res.end('{"via":"direct"}'));
    await new Promise<void>((resolve) => direct.listen(0, '127.0.0.1', resolve));
    try {
      const res = await c.getJson(`http://127.0.0.1:${(direct.address() as AddressInfo).port}/api`);
      expect(res.body).to.deep.equal({ via: 'direct' });
    } finally {
      direct.closeAllConnections();
      direct.close();
    }
    expect(proxy.seen).to.deep.equal([]);
  });

  it('refuses requests once closed (the driver was replaced)', async () => {
    const c = client({});
    await c.close();
    const err = await c.getJson(`${proxy.url}/x`).then(() => undefined, (e: unknown) => e as Error);
    expect(err).to.be.instanceOf(Error);
    expect(proxy.seen).to.deep.equal([]);
  });
});
