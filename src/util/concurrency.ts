/**
 * Runs `fn` over `items` with at most `limit` calls in flight, and stops on the first failure: no call
 * starts after one has failed, and the promise settles only when every call that did start has ended,
 * so no work outlives its caller. Rejects with the first failure.
 */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

/**
 * mapLimit over an array it empties as it goes: each slot is cleared when its call starts, so an item
 * can be collected as soon as its call has ended, while the rest still runs (a 100,000-object plan need
 * not stay whole in memory until its last write).
 */
export async function drainLimit<T>(items: (T | undefined)[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const indices = Array.from({ length: items.length }, (_, i) => i);
  await mapLimit(indices, limit, async (index) => {
    const item = items[index] as T;
    items[index] = undefined;
    await fn(item);
  });
}
