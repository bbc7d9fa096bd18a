// A keyed work queue with client-go semantics: a key is queued at most once, is never handed to
// two workers at the same time, and a key added while it is being processed is queued again
// (once) when its worker calls done(). Failed keys come back with per-key exponential backoff.
import { type Clock, type TimerHandle, realClock } from './clock.js';
import { logger as rootLogger } from './logger.js';
import { workqueueDepth, workqueueRetriesTotal } from './metrics.js';

export interface WorkQueueOptions {
  /** Name for the workqueue metrics; metrics are recorded only when set. */
  name?: string;
  clock?: Clock;
  /** First retry delay of `addRateLimited` (default 750 ms); doubles per consecutive failure. */
  baseDelayMs?: number;
  /** Longest retry delay of `addRateLimited` (default 15 min). */
  maxDelayMs?: number;
}

/** Computes the delay of the `failures`-th consecutive failure (1-based): base·2^(failures-1), capped. */
export function backoffDelay(failures: number, baseDelayMs: number, maxDelayMs: number): number {
  const exp = Math.max(0, failures - 1);
  // 2^exp overflows to Infinity long after passing any sane cap; Math.min handles that.
  return Math.min(baseDelayMs * 2 ** exp, maxDelayMs);
}

interface Delayed {
  readyAt: number;
  handle: TimerHandle;
}

/** A de-duplicating, single-flight, rate-limited queue of string keys. */
export class WorkQueue {
  private readonly clock: Clock;
  private readonly name?: string;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  private readonly queue: string[] = [];
  /** Keys that need processing: queued, or re-added while in flight. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly failureCounts = new Map<string, number>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  private drained?: () => void;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.name = options.name;
    this.baseDelayMs = options.baseDelayMs ?? 750;
    this.maxDelayMs = options.maxDelayMs ?? 15 * 60_000;
  }

  /** Queues `key` unless it is already queued; a key in flight is queued again after its `done`. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.dispatch();
  }

  /** Queues `key` after `ms`; if it is already waiting, the earlier time wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing) {
      if (existing.readyAt <= readyAt) return;
      this.clock.clearTimeout(existing.handle);
    }
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { readyAt, handle });
  }

  /** Records a failure of `key` and queues it after its backoff delay; returns that delay. */
  addRateLimited(key: string): number {
    const failures = (this.failureCounts.get(key) ?? 0) + 1;
    this.failureCounts.set(key, failures);
    const delay = backoffDelay(failures, this.baseDelayMs, this.maxDelayMs);
    if (this.name) workqueueRetriesTotal.inc({ name: this.name });
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the backoff of `key` (call after it was processed successfully). */
  forget(key: string): void {
    this.failureCounts.delete(key);
  }

  /** Consecutive failures recorded for `key` since its last `forget`. */
  failures(key: string): number {
    return this.failureCounts.get(key) ?? 0;
  }

  /**
   * Waits for the next key and marks it in flight; the caller must call `done(key)` when finished.
   * Resolves to undefined once the queue is shut down.
   */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` finished; if it was added again meanwhile, it is queued once more. */
  done(key: string): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key)) {
      if (this.shuttingDown) this.dirty.delete(key);
      else {
        this.queue.push(key);
        this.dispatch();
      }
    }
    if (this.shuttingDown && this.processing.size === 0) this.drained?.();
  }

  /** Keys waiting to be handed out (not counting delayed or in-flight keys). */
  len(): number {
    return this.queue.length;
  }

  /** Keys currently handed out to workers. */
  inFlight(): number {
    return this.processing.size;
  }

  /** True once `shutdown` or `shutDownWithDrain` was called. */
  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops the queue: waiting and future `get` calls resolve to undefined, adds are ignored, delayed keys dropped. */
  shutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const key of this.queue) this.dirty.delete(key);
    this.queue.length = 0;
    this.reportDepth();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  /** Like `shutdown`, then resolves once every key in flight has been marked done. */
  shutDownWithDrain(): Promise<void> {
    this.shutdown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.drained;
      this.drained = () => {
        previous?.();
        resolve();
      };
    });
  }

  private take(): string | undefined {
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    this.dirty.delete(key);
    this.processing.add(key);
    this.reportDepth();
    return key;
  }

  private dispatch(): void {
    while (this.waiters.length > 0 && this.queue.length > 0) {
      const waiter = this.waiters.shift()!;
      waiter(this.take());
    }
    this.reportDepth();
  }

  private reportDepth(): void {
    if (this.name) workqueueDepth.set({ name: this.name }, this.queue.length);
  }
}

/**
 * Runs `workers` concurrent loops that take keys from `queue`, pass them to `process` and always
 * call `done`. A throw from `process` goes to `onError` (default: log, retry with backoff) and never
 * ends a loop. Resolves when the queue is shut down and every loop has returned.
 */
export async function runWorkers(
  queue: WorkQueue,
  workers: number,
  process: (key: string) => Promise<void>,
  onError: (key: string, err: unknown) => void = (key, err) => {
    rootLogger.error('unhandled error processing key; retrying with backoff', { key, err });
    queue.addRateLimited(key);
  },
): Promise<void> {
  const loop = async () => {
    workerLoops.set(queue, runningWorkers(queue) + 1);
    try {
      for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
        try {
          await process(key);
        } catch (err) {
          onError(key, err);
        } finally {
          queue.done(key);
        }
      }
    } finally {
      workerLoops.set(queue, runningWorkers(queue) - 1);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, loop));
}

const workerLoops = new WeakMap<WorkQueue, number>();

/** How many `runWorkers` loops are taking keys from `queue` right now. */
export function runningWorkers(queue: WorkQueue): number {
  return workerLoops.get(queue) ?? 0;
}

/**
 * A readiness check that passes while every queue `queues()` returns has a worker running; when it
 * returns undefined (no controller started here, e.g. a replica waiting to lead) there is nothing to check.
 */
export function workersRunning(queues: () => WorkQueue[] | undefined): () => boolean {
  return () => (queues() ?? []).every((queue) => runningWorkers(queue) > 0);
}
