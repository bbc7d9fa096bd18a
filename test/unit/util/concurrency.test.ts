// drainLimit: the same bounded, fail-stop runner as mapLimit, over an array it empties as it goes.
import { expect } from 'chai';
import { drainLimit } from '../../../src/util/concurrency.js';

describe('util/concurrency drainLimit', () => {
  it('calls once per item, at most `limit` at a time, and leaves every slot empty', async () => {
    const items = Array.from({ length: 25 }, (_, i) => i);
    const seen: number[] = [];
    let inFlight = 0;
    let most = 0;
    await drainLimit(items, 3, async (item) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      seen.push(item);
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 25 }, (_, i) => i));
    expect(most).to.equal(3);
    expect(items.every((i) => i === undefined)).to.equal(true);
  });

  it('lets go of an item as its call starts (the call holds it until it ends)', async () => {
    const items: ({ n: number } | undefined)[] = [{ n: 1 }, { n: 2 }];
    const slots: (object | undefined)[] = [];
    await drainLimit(items, 1, async (item) => {
      slots.push(items[item.n - 1]);
    });
    expect(slots).to.deep.equal([undefined, undefined]);
  });

  it('starts nothing after a failure and rejects with it', async () => {
    const items = [1, 2, 3, 4, 5];
    const started: number[] = [];
    const err = await drainLimit(items, 1, async (item) => {
      started.push(item);
      if (item === 2) throw new Error('refused');
    }).catch((e: Error) => e);
    expect((err as Error).message).to.equal('refused');
    expect(started).to.deep.equal([1, 2]);
    expect(items.slice(2)).to.deep.equal([3, 4, 5]);
  });
});
