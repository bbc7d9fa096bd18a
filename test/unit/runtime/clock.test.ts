import { expect } from 'chai';
import { FakeClock, realClock, sleep } from '../../../src/runtime/clock.js';

describe('runtime/clock', () => {
  describe('FakeClock', () => {
    it('starts at the given time and moves only when advanced', () => {
      const clock = new FakeClock(1_000);
      expect(clock.now()).to.equal(1_000);
      clock.advance(250);
      expect(clock.now()).to.equal(1_250);
    });

    it('fires due timers in due-time order, ties in creation order, with now() at the due time', () => {
      const clock = new FakeClock(0);
      const fired: string[] = [];
      clock.setTimeout(() => fired.push(`c@${clock.now()}`), 30);
      clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
      clock.setTimeout(() => fired.push(`b1@${clock.now()}`), 20);
      clock.setTimeout(() => fired.push(`b2@${clock.now()}`), 20);
      clock.advance(25);
      expect(fired).to.deep.equal(['a@10', 'b1@20', 'b2@20']);
      expect(clock.now()).to.equal(25);
      clock.advance(5);
      expect(fired).to.deep.equal(['a@10', 'b1@20', 'b2@20', 'c@30']);
    });

    it('fires timers scheduled by other timers within the same advance', () => {
      const clock = new FakeClock(0);
      const fired: number[] = [];
      clock.setTimeout(() => {
        fired.push(clock.now());
        clock.setTimeout(() => fired.push(clock.now()), 10);
      }, 10);
      clock.advance(100);
      expect(fired).to.deep.equal([10, 20]);
    });

    it('does not fire cleared timers', () => {
      const clock = new FakeClock(0);
      let fired = false;
      const handle = clock.setTimeout(() => (fired = true), 10);
      clock.clearTimeout(handle);
      clock.advance(100);
      expect(fired).to.equal(false);
      expect(clock.pendingTimers()).to.equal(0);
    });

    it('advanceAsync lets async loops reschedule between timers', async () => {
      const clock = new FakeClock(0);
      const ticks: number[] = [];
      const loop = async () => {
        for (let i = 0; i < 3; i++) {
          await sleep(clock, 100);
          await Promise.resolve();
          ticks.push(clock.now());
        }
      };
      const done = loop();
      await clock.advanceAsync(1_000);
      await done;
      expect(ticks).to.deep.equal([100, 200, 300]);
    });
  });

  describe('sleep', () => {
    it('resolves early and clears its timer when the signal aborts', async () => {
      const clock = new FakeClock(0);
      const ac = new AbortController();
      const slept = sleep(clock, 10_000, ac.signal);
      ac.abort();
      await slept;
      expect(clock.now()).to.equal(0);
      expect(clock.pendingTimers()).to.equal(0);
    });

    it('works on the real clock for short waits', async () => {
      const start = Date.now();
      await sleep(realClock, 5);
      expect(Date.now() - start).to.be.at.least(4);
    });
  });
});
