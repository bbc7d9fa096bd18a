import { expect } from 'chai';
import { FakeClock } from '../../../src/runtime/clock.js';
import {
  LeaderElector,
  type LeaderElectorOptions,
  type LeaseClient,
  LeaseConflictError,
  type LeaseRecord,
  type StoredLease,
  defaultIdentity,
} from '../../../src/runtime/leader.js';
import { silentLogger } from '../../../src/runtime/logger.js';
import { leader as leaderGauge, registry } from '../../../src/runtime/metrics.js';

/** One in-memory Lease with apiserver semantics: create fails if it exists, update needs the current resourceVersion. */
class FakeLeaseStore {
  lease?: StoredLease;
  private rv = 0;
  /** While set, every request fails with this error. */
  failWith?: Error;
  /** While true, requests never answer. */
  hang = false;
  /** Clients whose requests never answer (a dead or partitioned replica). */
  readonly cutOff = new Set<string>();
  writes = 0;

  client(name = ''): LeaseClient {
    const gate = async () => {
      if (this.hang || this.cutOff.has(name)) await new Promise(() => undefined);
      if (this.failWith) throw this.failWith;
    };
    return {
      get: async () => {
        await gate();
        return this.lease && structuredClone(this.lease);
      },
      create: async (record) => {
        await gate();
        if (this.lease) throw new LeaseConflictError('already exists');
        return this.write(record);
      },
      update: async (record, resourceVersion) => {
        await gate();
        if (!this.lease || this.lease.resourceVersion !== resourceVersion) throw new LeaseConflictError();
        return this.write(record);
      },
    };
  }

  /** Another writer (e.g. a competitor that does not follow the protocol) replaces the record. */
  force(record: LeaseRecord): void {
    this.write(record);
  }

  private write(record: LeaseRecord): StoredLease {
    this.writes++;
    this.lease = { record: structuredClone(record), resourceVersion: String(++this.rv) };
    return structuredClone(this.lease);
  }
}

describe('runtime/leader', () => {
  let clock: FakeClock;
  let store: FakeLeaseStore;
  let electors: LeaderElector[];
  let log: string[];

  function elector(identity: string, overrides: Partial<LeaderElectorOptions> = {}): LeaderElector {
    const e = new LeaderElector({
      lease: store.client(identity),
      identity,
      clock,
      logger: silentLogger(),
      random: () => 0,
      onStartedLeading: (signal) => {
        log.push(`${identity} started @${clock.now()}`);
        signal.addEventListener('abort', () => log.push(`${identity} signalled @${clock.now()}`));
      },
      onStoppedLeading: () => {
        log.push(`${identity} stopped @${clock.now()}`);
      },
      ...overrides,
    });
    electors.push(e);
    return e;
  }

  beforeEach(() => {
    clock = new FakeClock(1_000_000);
    store = new FakeLeaseStore();
    electors = [];
    log = [];
    registry.resetMetrics();
  });

  afterEach(async () => {
    store.hang = false;
    store.failWith = undefined;
    await Promise.all(electors.map((e) => e.stop()));
  });

  it('creates a missing Lease and starts leading', async () => {
    const a = elector('a');
    a.start();
    await clock.advanceAsync(0);
    expect(a.isLeader()).to.equal(true);
    expect(log).to.deep.equal(['a started @1000000']);
    expect(store.lease!.record).to.deep.include({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect((await leaderGauge.get()).values[0].value).to.equal(1);
  });

  it('renews every 5 s, keeping acquireTime', async () => {
    const a = elector('a');
    a.start();
    await clock.advanceAsync(0);
    const acquired = store.lease!.record.acquireTime!.getTime();
    const writes = store.writes;
    await clock.advanceAsync(20_000);
    expect(store.writes - writes).to.equal(4);
    expect(store.lease!.record.renewTime!.getTime()).to.equal(clock.now());
    expect(store.lease!.record.acquireTime!.getTime()).to.equal(acquired);
    expect(a.isLeader()).to.equal(true);
  });

  it('waits while another holder keeps renewing, and takes over 15 s after the last renewal it saw', async () => {
    const a = elector('a');
    a.start();
    await clock.advanceAsync(0);
    const b = elector('b');
    b.start();
    await clock.advanceAsync(60_000);
    expect(b.isLeader()).to.equal(false);

    // a is cut off (dead or partitioned) right after renewing: nothing it does reaches the Lease any more.
    while (store.lease!.record.renewTime!.getTime() !== clock.now()) await clock.advanceAsync(1_000);
    store.cutOff.add('a');
    const seenAt = clock.now();

    for (let t = 0; t < 14_000; t += 1_000) {
      await clock.advanceAsync(1_000);
      expect(b.isLeader(), `at +${t + 1_000} ms`).to.equal(false);
    }
    await clock.advanceAsync(3_000);
    expect(b.isLeader()).to.equal(true);
    expect(a.isLeader(), 'a gave up on its own meanwhile').to.equal(false);
    expect(store.lease!.record.holderIdentity).to.equal('b');
    expect(store.lease!.record.leaseTransitions).to.equal(1);
    const takeover = log.find((l) => l.startsWith('b started'))!;
    expect(Number(takeover.split('@')[1]) - seenAt).to.be.within(15_000, 17_000);
  });

  it('loses leadership as soon as another holder took the Lease, then campaigns again', async () => {
    const a = elector('a');
    a.start();
    await clock.advanceAsync(0);
    store.force({ holderIdentity: 'intruder', leaseDurationSeconds: 15, renewTime: new Date(clock.now()) });
    await clock.advanceAsync(5_000);
    expect(a.isLeader()).to.equal(false);
    expect(log).to.deep.equal(['a started @1000000', 'a signalled @1005000', 'a stopped @1005000']);

    // The intruder never renews: a takes the Lease back once it expires.
    await clock.advanceAsync(20_000);
    expect(a.isLeader()).to.equal(true);
    expect(store.lease!.record.holderIdentity).to.equal('a');
  });

  it('stops working before the Lease can expire when renewals keep failing', async () => {
    const a = elector('a');
    a.start();
    await clock.advanceAsync(5_000); // renewed at +5 s
    const lastRenewal = clock.now();
    store.failWith = new Error('etcdserver: request timed out');
    await clock.advanceAsync(20_000);
    const signalled = log.find((l) => l.startsWith('a signalled'));
    expect(signalled, 'work must be signalled').to.be.a('string');
    const at = Number(signalled!.split('@')[1]);
    expect(at - lastRenewal).to.be.at.least(10_000).and.below(15_000);
    expect(a.isLeader()).to.equal(false);
  });

  it('treats a renewal that never answers as failed', async () => {
    const a = elector('a');
    a.start();
    await clock.advanceAsync(0);
    store.hang = true;
    await clock.advanceAsync(14_000);
    expect(a.isLeader()).to.equal(false);
    expect(log.some((l) => l.startsWith('a signalled'))).to.equal(true);
  });

  it('loses nothing on a transient failure that recovers within the deadline', async () => {
    const a = elector('a');
    a.start();
    await clock.advanceAsync(0);
    store.failWith = new Error('connection refused');
    await clock.advanceAsync(7_000);
    store.failWith = undefined;
    await clock.advanceAsync(10_000);
    expect(a.isLeader()).to.equal(true);
    expect(log).to.deep.equal(['a started @1000000']);
  });

  it('on stop, signals the work, awaits onStoppedLeading and releases the Lease so a successor starts at once', async () => {
    const a = elector('a');
    a.start();
    await clock.advanceAsync(0);
    const b = elector('b');
    b.start();
    await clock.advanceAsync(3_000);
    expect(b.isLeader()).to.equal(false);

    await a.stop();
    expect(a.isLeader()).to.equal(false);
    expect(store.lease!.record).to.deep.include({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(log.slice(-2)).to.deep.equal(['a signalled @1003000', 'a stopped @1003000']);
    expect((await leaderGauge.get()).values[0].value).to.equal(0);

    await clock.advanceAsync(2_000); // b's next attempt, not 15 s later
    expect(b.isLeader()).to.equal(true);
  });

  it('never lets two candidates lead at the same time', async () => {
    const a = elector('a');
    const b = elector('b');
    const c = elector('c');
    for (const e of [a, b, c]) e.start();
    let changes = 0;
    let previous = '';
    for (let step = 0; step < 300; step++) {
      // Occasionally the API fails for a while, making the leader give up.
      store.failWith = step % 50 >= 40 ? new Error('apiserver unavailable') : undefined;
      await clock.advanceAsync(1_000);
      const leaders = [a, b, c].filter((e) => e.isLeader());
      expect(leaders.length, `step ${step}`).to.be.at.most(1);
      const now = leaders.map((e) => e.identity).join();
      if (now !== previous) changes++;
      previous = now;
    }
    expect(changes).to.be.greaterThan(2);
  });

  it('rejects timings where the leader could outlive its Lease', () => {
    expect(() => elector('x', { leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).to.throw(/renewDeadline/);
  });

  it('derives a unique identity from the hostname', () => {
    const [one, two] = [defaultIdentity(), defaultIdentity()];
    expect(one).to.match(/^.+_[0-9a-f]{8}$/);
    expect(one).not.to.equal(two);
  });
});
