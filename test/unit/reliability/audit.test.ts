// Reading "who held the Lease when this write was made" out of an apiserver audit log.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { operatorUserAgent } from '../../../src/kube/user-agent.js';
import { microsecondsOf, readAuditedWrites, writeInterval, writesByNonHolders } from '../../reliability/support/audit.js';

const OPERATOR = 'system:serviceaccount:idpsync-system:idpsync';
const LEASE = { namespace: 'idpsync-system', name: 'idpsync-operator', leaseDurationMs: 15_000, username: OPERATOR };

function event(at: string, opts: { replica?: string; resource: string; verb?: string; code?: number; user?: string; name?: string }): string {
  const lease = opts.resource === 'leases';
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    stage: 'ResponseComplete',
    verb: opts.verb ?? (lease ? 'update' : 'patch'),
    user: { username: opts.user ?? OPERATOR },
    userAgent: opts.replica ? operatorUserAgent(opts.replica) : 'kubectl/v1.31.0 (linux/amd64) kubernetes/abc',
    objectRef: lease
      ? { apiGroup: 'coordination.k8s.io', apiVersion: 'v1', resource: 'leases', namespace: LEASE.namespace, name: opts.name ?? LEASE.name }
      : { apiGroup: 'idpsync.io', apiVersion: 'v1alpha1', resource: opts.resource, namespace: 'ns', name: 'x' },
    responseStatus: { code: opts.code ?? 200 },
    requestReceivedTimestamp: `2026-01-01T00:00:${at}Z`,
    stageTimestamp: `2026-01-01T00:00:${at.replace(/\d$/, (d) => String(Math.min(9, Number(d) + 1)))}Z`,
  });
}

describe('audit log: writers and the Lease', () => {
  let dir: string;
  const write = (lines: string[]) => {
    const path = join(dir, 'audit.log');
    writeFileSync(path, lines.join('\n') + '\n');
    return readAuditedWrites(path);
  };
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'idpsync-audit-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads microsecond timestamps', () => {
    expect(microsecondsOf('2026-01-01T00:00:01.123456Z') - microsecondsOf('2026-01-01T00:00:01Z')).to.equal(123456);
    expect(microsecondsOf('2026-01-01T00:00:01.5Z') - microsecondsOf('2026-01-01T00:00:01Z')).to.equal(500000);
  });

  it('finds no stray writer in a clean handover, and the write intervals of each replica', () => {
    const writes = write([
      event('01.000100', { replica: 'a', resource: 'leases', verb: 'create', code: 201 }),
      event('02.000100', { replica: 'a', resource: 'users' }),
      event('03.000100', { replica: 'b', resource: 'leases', code: 409 }),
      event('04.000100', { replica: 'a', resource: 'groups' }),
      event('20.000100', { replica: 'b', resource: 'leases' }),
      event('21.000100', { replica: 'b', resource: 'users' }),
      event('22.000100', { resource: 'directorysyncs', user: 'idpsync-test-admin' }),
    ]);
    expect(writesByNonHolders(writes, LEASE)).to.deep.equal([]);
    expect(writeInterval(writes, 'a')).to.include({ count: 2 });
    // a's last write was answered at 04.000101, b's first received at 21.000100.
    expect(writeInterval(writes, 'b')!.firstUs - writeInterval(writes, 'a')!.lastUs).to.equal(16_999_999);
  });

  it('flags a write by a replica whose Lease was taken, one made after the Lease ran out, and one without a replica User-Agent', () => {
    const writes = write([
      event('01.000100', { replica: 'a', resource: 'leases', verb: 'create', code: 201 }),
      event('20.000100', { replica: 'b', resource: 'leases' }),
      event('21.000100', { replica: 'a', resource: 'users' }),
      event('40.000100', { replica: 'b', resource: 'users' }),
      event('41.000100', { resource: 'groups' }),
    ]);
    const strays = writesByNonHolders(writes, LEASE);
    expect(strays.map((s) => [s.write.replica, s.holder])).to.deep.equal([
      ['a', 'b'],
      ['b', undefined],
      [undefined, undefined],
    ]);
  });
});
