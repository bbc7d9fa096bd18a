import { expect } from 'chai';
import { Counter, Registry } from 'prom-client';
import { HealthServer } from '../../../src/runtime/server.js';
import { silentLogger } from '../../../src/runtime/logger.js';
import { WorkQueue, runWorkers, workersRunning } from '../../../src/runtime/workqueue.js';

describe('runtime/server', () => {
  let server: HealthServer;
  let base: string;
  let informersSynced: boolean;
  let registry: Registry;

  beforeEach(async () => {
    informersSynced = false;
    registry = new Registry();
    new Counter({ name: 'idpsync_test_total', help: 'test', registers: [registry] }).inc(7);
    server = new HealthServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      readiness: { informers: () => informersSynced },
      checkTimeoutMs: 20,
      logger: silentLogger(),
    });
    base = `http://127.0.0.1:${await server.listen()}`;
  });

  afterEach(async () => server.close());

  it('/healthz answers while the process runs', async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).to.equal(200);
    expect(await res.text()).to.equal('ok\n');
  });

  it('/readyz is 503 naming the failing checks, 200 once all pass', async () => {
    server.addReadinessCheck('leader-election', async () => true);
    let res = await fetch(`${base}/readyz`);
    expect(res.status).to.equal(503);
    const body = await res.text();
    expect(body).to.include('[-]informers failed');
    expect(body).to.include('[+]leader-election ok');
    expect(body).to.include('readyz check failed: informers');

    informersSynced = true;
    res = await fetch(`${base}/readyz`);
    expect(res.status).to.equal(200);
    expect(await res.text()).to.include('readyz check passed');
  });

  it('/readyz fails while a controller has no worker running', async () => {
    informersSynced = true;
    const queue = new WorkQueue();
    server.addReadinessCheck('workers', workersRunning(() => [queue]));
    runWorkers(queue, Number('abc'), async () => {});
    let res = await fetch(`${base}/readyz`);
    expect(res.status).to.equal(503);
    expect(await res.text()).to.include('[-]workers failed\nreadyz check failed: workers\n');
    const running = runWorkers(queue, 1, async () => {});
    res = await fetch(`${base}/readyz`);
    expect(res.status).to.equal(200);
    queue.shutdown();
    await running;
  });

  it('a check that throws or hangs fails', async () => {
    informersSynced = true;
    server.addReadinessCheck('throws', () => {
      throw new Error('boom');
    });
    server.addReadinessCheck('hangs', () => new Promise<boolean>(() => undefined));
    const res = await fetch(`${base}/readyz`);
    expect(res.status).to.equal(503);
    expect(await res.text()).to.include('readyz check failed: throws, hangs');
  });

  it('/metrics serves the registry in the Prometheus text format', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.include('text/plain');
    expect(await res.text()).to.include('idpsync_test_total 7');
  });

  it('unknown paths are 404, other methods 405', async () => {
    expect((await fetch(`${base}/nope`)).status).to.equal(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).to.equal(405);
  });

  it('close stops listening even with keep-alive connections open', async () => {
    await fetch(`${base}/healthz`, { headers: { connection: 'keep-alive' } });
    await server.close();
    let refused = false;
    try {
      await fetch(`${base}/healthz`);
    } catch {
      refused = true;
    }
    expect(refused).to.equal(true);
  });
});
