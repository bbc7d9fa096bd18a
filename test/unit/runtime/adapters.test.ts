// The client-node adapters of the Lease and Event interfaces, against a loopback server that
// records requests and answers like the apiserver.
import { CoordinationV1Api, EventsV1Api, KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventGoneError, eventsV1Sink } from '../../../src/runtime/events.js';
import { LeaseConflictError, coordinationLeaseClient } from '../../../src/runtime/leader.js';

interface Seen {
  method: string;
  path: string;
  contentType?: string;
  body: any;
}

describe('runtime client-node adapters', () => {
  let server: http.Server;
  let kc: KubeConfig;
  let seen: Seen[];
  let reply: (req: Seen) => { status: number; body?: unknown };

  beforeEach(async () => {
    seen = [];
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const entry: Seen = {
          method: req.method!,
          path: req.url!,
          contentType: req.headers['content-type'],
          body: raw ? JSON.parse(raw) : undefined,
        };
        seen.push(entry);
        const { status, body } = reply(entry);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const status = (code: number) => ({ kind: 'Status', apiVersion: 'v1', code, message: `status ${code}` });
  const leasePath = '/apis/coordination.k8s.io/v1/namespaces/ops/leases/idpsync';

  describe('coordinationLeaseClient', () => {
    it('maps 404 on read to undefined and parses a Lease', async () => {
      const lease = coordinationLeaseClient(kc.makeApiClient(CoordinationV1Api), 'ops', 'idpsync');
      reply = () => ({ status: 404, body: status(404) });
      expect(await lease.get()).to.equal(undefined);

      reply = () => ({
        status: 200,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: 'idpsync', namespace: 'ops', resourceVersion: '42' },
          spec: { holderIdentity: 'pod-a', leaseDurationSeconds: 15, renewTime: '2025-01-01T00:00:05.123456Z', leaseTransitions: 3 },
        },
      });
      const got = await lease.get();
      expect(got!.resourceVersion).to.equal('42');
      expect(got!.record).to.deep.include({ holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 3 });
      expect(got!.record.renewTime!.getTime()).to.equal(Date.UTC(2025, 0, 1, 0, 0, 5, 123));
      expect(seen[1]).to.include({ method: 'GET', path: leasePath });
    });

    it('creates and replaces with MicroTime timestamps and the resourceVersion read', async () => {
      const lease = coordinationLeaseClient(kc.makeApiClient(CoordinationV1Api), 'ops', 'idpsync');
      reply = (req) => ({ status: 200, body: { ...req.body, metadata: { ...req.body.metadata, resourceVersion: '7' } } });
      const t = new Date(Date.UTC(2025, 0, 1, 0, 0, 0, 250));
      await lease.create({ holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: t, renewTime: t, leaseTransitions: 0 });
      expect(seen[0]).to.deep.include({ method: 'POST', path: '/apis/coordination.k8s.io/v1/namespaces/ops/leases' });
      expect(seen[0].body.spec).to.deep.equal({
        holderIdentity: 'me',
        leaseDurationSeconds: 15,
        acquireTime: '2025-01-01T00:00:00.250000Z',
        renewTime: '2025-01-01T00:00:00.250000Z',
        leaseTransitions: 0,
      });

      await lease.update({ holderIdentity: 'me', leaseDurationSeconds: 15, renewTime: t }, '7');
      expect(seen[1]).to.deep.include({ method: 'PUT', path: leasePath });
      expect(seen[1].body.metadata).to.deep.include({ name: 'idpsync', namespace: 'ops', resourceVersion: '7' });
    });

    it('turns 409 into LeaseConflictError', async () => {
      const lease = coordinationLeaseClient(kc.makeApiClient(CoordinationV1Api), 'ops', 'idpsync');
      reply = () => ({ status: 409, body: status(409) });
      let err: unknown;
      await lease.update({ holderIdentity: 'me' }, '1').catch((e) => (err = e));
      expect(err).to.be.instanceOf(LeaseConflictError);
      err = undefined;
      await lease.create({ holderIdentity: 'me' }).catch((e) => (err = e));
      expect(err).to.be.instanceOf(LeaseConflictError);
    });
  });

  describe('eventsV1Sink', () => {
    it('creates Events and updates a series with a JSON patch', async () => {
      const sink = eventsV1Sink(kc.makeApiClient(EventsV1Api));
      reply = (req) => ({ status: req.method === 'POST' ? 201 : 200, body: req.method === 'POST' ? req.body : {} });
      const name = await sink.create('team-a', {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: 'okta.abc', namespace: 'team-a' },
        eventTime: new Date(Date.UTC(2025, 0, 1)),
        reason: 'Synced',
      });
      expect(name).to.equal('okta.abc');
      expect(seen[0]).to.deep.include({ method: 'POST', path: '/apis/events.k8s.io/v1/namespaces/team-a/events' });

      await sink.updateSeries('team-a', 'okta.abc', 3, new Date(Date.UTC(2025, 0, 1, 0, 1)));
      expect(seen[1]).to.deep.include({
        method: 'PATCH',
        path: '/apis/events.k8s.io/v1/namespaces/team-a/events/okta.abc',
        contentType: 'application/json-patch+json',
      });
      expect(seen[1].body).to.deep.equal([
        { op: 'add', path: '/series', value: { count: 3, lastObservedTime: '2025-01-01T00:01:00.000000Z' } },
      ]);
    });

    it('reports a vanished Event as EventGoneError', async () => {
      const sink = eventsV1Sink(kc.makeApiClient(EventsV1Api));
      reply = () => ({ status: 404, body: status(404) });
      let err: unknown;
      await sink.updateSeries('team-a', 'gone', 2, new Date()).catch((e) => (err = e));
      expect(err).to.be.instanceOf(EventGoneError);
    });
  });
});
