import { expect } from 'chai';
import { FakeClock, flushPromises } from '../../../src/runtime/clock.js';
import { logger } from '../../../src/runtime/logger.js';
import { registry } from '../../../src/runtime/metrics.js';
import { WorkQueue, backoffDelay, runWorkers, runningWorkers, workersRunning } from '../../../src/runtime/workqueue.js';

/** Resolves with the value if `p` settles within the current turn of promise continuations, else 'pending'. */
async function peek<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, flushPromises().then(() => 'pending' as const)]);
}

describe('runtime/workqueue', () => {
  let clock: FakeClock;
  let q: WorkQueue;

  beforeEach(() => {
    clock = new FakeClock(0);
    q = new WorkQueue({ clock });
  });

  afterEach(() => q.shutdown());

  it('hands out keys in FIFO order and de-duplicates queued keys', async () => {
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).to.equal(2);
    expect(await q.get()).to.equal('a');
    expect(await q.get()).to.equal('b');
    expect(q.len()).to.equal(0);
  });

  it('get waits for a key to be added', async () => {
    const next = q.get();
    expect(await peek(next)).to.equal('pending');
    q.add('x');
    expect(await next).to.equal('x');
  });

  it('never hands the same key to two workers; a key re-added while in flight is queued once after done', async () => {
    q.add('k');
    const first = await q.get();
    q.add('k');
    q.add('k');
    expect(q.len()).to.equal(0, 'an in-flight key must not be queued again yet');
    const second = q.get();
    expect(await peek(second)).to.equal('pending');
    q.done(first!);
    expect(await second).to.equal('k');
    q.done('k');
    expect(q.len()).to.equal(0, 'the two re-adds collapse into one');
    expect(await peek(q.get())).to.equal('pending');
  });

  it('done without a re-add does not queue the key again', async () => {
    q.add('k');
    q.done((await q.get())!);
    expect(q.len()).to.equal(0);
  });

  it('serves N concurrent waiters with distinct keys', async () => {
    const waiters = [q.get(), q.get(), q.get()];
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('c');
    expect(await Promise.all(waiters)).to.deep.equal(['a', 'b', 'c']);
  });

  describe('addAfter', () => {
    it('queues the key only when the delay has passed', async () => {
      q.addAfter('k', 1_000);
      clock.advance(999);
      expect(q.len()).to.equal(0);
      clock.advance(1);
      expect(q.len()).to.equal(1);
    });

    it('keeps the earlier of two pending times and fires once', () => {
      q.addAfter('k', 5_000);
      q.addAfter('k', 1_000);
      q.addAfter('k', 3_000);
      clock.advance(1_000);
      expect(q.len()).to.equal(1);
      clock.advance(10_000);
      expect(q.len()).to.equal(1);
      expect(clock.pendingTimers()).to.equal(0);
    });

    it('with a non-positive delay adds immediately', () => {
      q.addAfter('k', 0);
      expect(q.len()).to.equal(1);
    });
  });

  describe('addRateLimited', () => {
    it('backs off exponentially per key from 750 ms up to 15 min, and forget resets it', async () => {
      const delays: number[] = [];
      for (let i = 0; i < 14; i++) {
        delays.push(q.addRateLimited('k'));
        clock.advance(delays[i]);
        q.done((await q.get())!);
      }
      expect(delays.slice(0, 5)).to.deep.equal([750, 1_500, 3_000, 6_000, 12_000]);
      expect(delays.at(-1)).to.equal(15 * 60_000);
      expect(q.failures('k')).to.equal(14);
      expect(q.failures('other')).to.equal(0);

      q.forget('k');
      expect(q.failures('k')).to.equal(0);
      expect(q.addRateLimited('k')).to.equal(750);
    });

    it('keeps separate backoff per key', () => {
      q.addRateLimited('a');
      q.addRateLimited('a');
      expect(q.addRateLimited('b')).to.equal(750);
      expect(q.failures('a')).to.equal(2);
    });

    it('does not hand the key out before its delay', async () => {
      q.addRateLimited('k');
      const next = q.get();
      clock.advance(749);
      expect(await peek(next)).to.equal('pending');
      clock.advance(1);
      expect(await next).to.equal('k');
    });

    it('honours configured base and cap', () => {
      const custom = new WorkQueue({ clock, baseDelayMs: 100, maxDelayMs: 250 });
      expect([custom.addRateLimited('k'), custom.addRateLimited('k'), custom.addRateLimited('k')]).to.deep.equal([
        100, 200, 250,
      ]);
      custom.shutdown();
    });

    it('backoffDelay stays finite for huge failure counts', () => {
      expect(backoffDelay(10_000, 750, 60_000)).to.equal(60_000);
    });
  });

  describe('shutdown', () => {
    it('releases waiting getters with undefined and makes later gets return undefined', async () => {
      const waiting = q.get();
      q.add('queued-later');
      const busy = await waiting;
      const idle = q.get();
      q.shutdown();
      expect(busy).to.equal('queued-later');
      expect(await idle).to.equal(undefined);
      q.add('ignored');
      expect(await q.get()).to.equal(undefined);
      expect(q.len()).to.equal(0);
    });

    it('drops delayed keys and their timers', () => {
      q.addAfter('k', 1_000);
      q.addRateLimited('j');
      q.shutdown();
      expect(clock.pendingTimers()).to.equal(0);
    });

    it('shutDownWithDrain resolves only when in-flight keys are done, without re-queueing them', async () => {
      q.add('a');
      q.add('b');
      const a = (await q.get())!;
      const b = (await q.get())!;
      q.add('a');
      const drained = q.shutDownWithDrain();
      q.done(a);
      expect(await peek(drained)).to.equal('pending');
      q.done(b);
      await drained;
      expect(q.len()).to.equal(0);
      expect(await q.get()).to.equal(undefined);
    });

    it('shutDownWithDrain resolves at once when nothing is in flight', async () => {
      q.add('queued');
      await q.shutDownWithDrain();
      expect(q.len()).to.equal(0);
    });
  });

  describe('runWorkers', () => {
    it('processes keys concurrently, one worker per key at a time, until shutdown', async () => {
      const active = new Set<string>();
      let maxConcurrent = 0;
      let overlaps = 0;
      const processed: string[] = [];
      const release = new Map<string, () => void>();
      const process = async (key: string) => {
        if (active.has(key)) overlaps++;
        active.add(key);
        maxConcurrent = Math.max(maxConcurrent, active.size);
        await new Promise<void>((resolve) => release.set(key, resolve));
        active.delete(key);
        processed.push(key);
      };
      const running = runWorkers(q, 3, process);
      for (const key of ['a', 'b', 'c', 'd']) q.add(key);
      await flushPromises();
      expect(active.size).to.equal(3);
      q.add('a'); // while 'a' is in flight
      release.get('a')!();
      await flushPromises();
      // 'a' comes back only after its first run finished; the freed worker may take it or 'd'.
      for (let round = 0; round < 5 && processed.length < 5; round++) {
        for (const [key, resolve] of release) if (active.has(key)) resolve();
        await flushPromises();
      }
      expect(overlaps).to.equal(0);
      expect(maxConcurrent).to.equal(3);
      expect(processed.sort()).to.deep.equal(['a', 'a', 'b', 'c', 'd']);
      q.shutdown();
      await running;
    });

    it('keeps a worker alive when process throws and reports the error', async () => {
      const errors: string[] = [];
      const seen: string[] = [];
      const running = runWorkers(
        q,
        1,
        async (key) => {
          seen.push(key);
          if (key === 'bad') throw new Error('boom');
        },
        (key, err) => errors.push(`${key}:${(err as Error).message}`),
      );
      q.add('bad');
      q.add('good');
      await flushPromises();
      expect(seen).to.deep.equal(['bad', 'good']);
      expect(errors).to.deep.equal(['bad:boom']);
      q.shutdown();
      await running;
    });

    it('counts its running loops: as many as asked for, none for a count that is not a number, none after shutdown', async () => {
      expect(runningWorkers(q)).to.equal(0);
      const running = runWorkers(q, 3, async () => {});
      expect(runningWorkers(q)).to.equal(3);
      const other = new WorkQueue({ clock });
      const none = runWorkers(other, Number('abc'), async () => {});
      expect(runningWorkers(other)).to.equal(0);
      await none;
      q.shutdown();
      await running;
      expect(runningWorkers(q)).to.equal(0);
    });

    it('workersRunning passes only while every queue has a worker, and with no queues to check', async () => {
      const other = new WorkQueue({ clock });
      let queues: WorkQueue[] | undefined = undefined;
      const ready = workersRunning(() => queues);
      expect(ready(), 'nothing started here').to.equal(true);
      queues = [q, other];
      const running = runWorkers(q, 1, async () => {});
      expect(ready(), 'one queue has no worker').to.equal(false);
      const otherRunning = runWorkers(other, 2, async () => {});
      expect(ready()).to.equal(true);
      other.shutdown();
      await otherRunning;
      expect(ready(), 'after shutdown').to.equal(false);
      q.shutdown();
      await running;
    });

    it('by default logs and retries a throwing key with backoff', async () => {
      logger.silent = true;
      let calls = 0;
      const running = runWorkers(q, 1, async () => {
        calls++;
        throw new Error(`${calls}`);
      });
      q.add('k');
      await flushPromises();
      expect(calls).to.equal(1);
      await clock.advanceAsync(750);
      expect(calls).to.equal(2);
      expect(q.failures('k')).to.equal(2);
      q.shutdown();
      await running;
      logger.silent = false;
    });
  });

  it('reports depth and retries as metrics when named', async () => {
    registry.resetMetrics();
    const named = new WorkQueue({ clock, name: 'directorysync' });
    named.add('a');
    named.add('b');
    named.addRateLimited('c');
    const text = await registry.metrics();
    expect(text).to.include('idpsync_workqueue_depth{name="directorysync"} 2');
    expect(text).to.include('idpsync_workqueue_retries_total{name="directorysync"} 1');
    named.shutdown();
  });
});
