// Time source for everything in the runtime, so tests can drive time instead of sleeping.

/** Opaque handle returned by `Clock.setTimeout`. */
export type TimerHandle = { readonly __timer: true };

/** Wall-clock time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or already-fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The process clock (Date.now and the global timers). */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)) as unknown as TimerHandle,
  clearTimeout: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
};

/** Resolves after `ms` on `clock`, or as soon as `signal` aborts (it never rejects). */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => {
      clock.clearTimeout(handle);
      resolve();
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface FakeTimer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

/** A manually driven clock for tests: time moves only through `advance`/`advanceAsync`. */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private timers: FakeTimer[] = [];

  constructor(startMs = Date.UTC(2025, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: this.nextId++, due: this.current + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as unknown as FakeTimer | undefined)?.id;
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Number of timers not yet fired or cleared. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing due timers synchronously in due-time order (ties: creation order). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (let timer = this.takeNextDue(target); timer; timer = this.takeNextDue(target)) {
      this.current = timer.due;
      timer.fn();
    }
    this.current = target;
  }

  /**
   * Like `advance`, but lets promise continuations run after each timer, so async loops
   * that schedule their next timer after an `await` keep up with the moving clock.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + ms;
    await flushPromises();
    for (let timer = this.takeNextDue(target); timer; timer = this.takeNextDue(target)) {
      this.current = timer.due;
      timer.fn();
      await flushPromises();
    }
    this.current = target;
    await flushPromises();
  }

  private takeNextDue(target: number): FakeTimer | undefined {
    let next: FakeTimer | undefined;
    for (const t of this.timers) {
      if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.id < next.id))) next = t;
    }
    if (next) this.timers = this.timers.filter((t) => t !== next);
    return next;
  }
}

/** Waits until every already-queued promise continuation (and those they queue) has run. */
export function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
