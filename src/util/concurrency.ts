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
