// Keeps one directory's pending webhook events in an OutboxStore: reads them once before delivery
// starts, then writes them whenever they change, at most once per interval and never when nothing
// changed (a resync with nothing pending costs no API write).
//
// When they cannot be read (the store fails or does not answer within loadTimeoutMs) delivery starts
// without them, since revocations must not wait on the store; reading is retried with backoff, and
// nothing is written until it succeeds, so what could not be read is never overwritten.
import type { Clock, TimerHandle } from '../runtime/clock.js';
import type { OutboxStore, PersistedOutbox } from './outbox.js';
import type { NotifierLog } from './target.js';

export interface OutboxKeeperOptions {
  directoryKey: string;
  store: OutboxStore;
  clock: Clock;
  /** Minimum time between two writes. */
  intervalMs: number;
  loadTimeoutMs: number;
  /** Ceiling of the backoff after failed reads or writes. */
  maxRetryMs: number;
  log: NotifierLog;
  /** What is pending now. */
  snapshot(): PersistedOutbox;
  /**
   * What the store held, to be put first in the queues. Called once when the first read settles
   * (undefined when nothing could be read) and again if a later retry reads it.
   */
  loaded(outbox: PersistedOutbox | undefined): void;
  /** The store left out these events, the oldest, to stay within its size limit. */
  dropped(ids: string[]): void;
}

type State = 'loading' | 'ready' | 'unread' | 'closed';

const UNREAD = Symbol('unread');
const MIN_RETRY_MS = 1_000;

export class OutboxKeeper {
  /** Settles once the first read did (successfully or not) and `loaded` was called. */
  readonly ready: Promise<void>;
  private state: State = 'loading';
  /** Fingerprint of what the store holds, once known. */
  private saved?: string;
  private timer?: TimerHandle;
  /** A read or write in flight: never two at once. */
  private busy?: Promise<void>;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private failures = 0;

  constructor(private readonly opts: OutboxKeeperOptions) {
    this.ready = this.read().then((outbox) => {
      if (this.state !== 'closed') opts.loaded(outbox === UNREAD ? undefined : outbox);
    });
    this.busy = this.ready.finally(() => {
      this.busy = undefined;
      this.schedule();
    });
  }

  /** The pending events may have changed: write them once the interval allows. */
  changed(): void {
    this.schedule();
  }

  /** Final write, with what was pending when delivery stopped; no more reads or writes afterwards. */
  async flush(outbox: PersistedOutbox): Promise<void> {
    this.cancelTimer();
    if (this.state !== 'ready') {
      // Never read: nothing may be written over what is kept. A read in flight is not waited for.
      this.state = 'closed';
      return;
    }
    await this.busy;
    if (this.state !== 'ready') return;
    this.state = 'closed';
    const fingerprint = fingerprintOf(outbox);
    if (fingerprint !== this.saved) await this.write(outbox, fingerprint);
  }

  /** The directory is gone: no more writes. */
  close(): void {
    this.state = 'closed';
    this.cancelTimer();
  }

  private schedule(): void {
    if (this.timer || this.busy || (this.state !== 'ready' && this.state !== 'unread')) return;
    const wait =
      this.failures === 0
        ? this.opts.intervalMs
        : Math.min(this.opts.maxRetryMs, Math.max(this.opts.intervalMs, MIN_RETRY_MS) * 2 ** Math.min(this.failures - 1, 20));
    const delay = Math.max(0, this.lastAttemptAt + wait - this.opts.clock.now());
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, delay);
  }

  private tick(): void {
    if (this.busy) return;
    let work: Promise<void>;
    if (this.state === 'unread') {
      work = this.read().then((outbox) => {
        if (outbox !== UNREAD && this.state === 'ready') this.opts.loaded(outbox);
      });
    } else if (this.state === 'ready') {
      const outbox = this.opts.snapshot();
      const fingerprint = fingerprintOf(outbox);
      if (fingerprint === this.saved) return;
      work = this.write(outbox, fingerprint);
    } else {
      return;
    }
    this.busy = work.finally(() => {
      this.busy = undefined;
      // Whatever changed meanwhile, or a failure's retry.
      this.schedule();
    });
  }

  private async read(): Promise<PersistedOutbox | undefined | typeof UNREAD> {
    this.lastAttemptAt = this.opts.clock.now();
    try {
      const outbox = await this.withTimeout(this.opts.store.load(this.opts.directoryKey));
      if (this.state === 'closed') return UNREAD;
      this.state = 'ready';
      this.failures = 0;
      this.saved = fingerprintOf(outbox ?? { webhooks: [] });
      return outbox;
    } catch (err) {
      if (this.state === 'closed') return UNREAD;
      this.state = 'unread';
      this.failures++;
      this.opts.log.warn('cannot read the webhook notifications kept from before the restart; delivering without them for now', {
        directory: this.opts.directoryKey,
        error: describe(err),
      });
      return UNREAD;
    }
  }

  private async write(outbox: PersistedOutbox, fingerprint: string): Promise<void> {
    this.lastAttemptAt = this.opts.clock.now();
    try {
      const result = await this.opts.store.save(this.opts.directoryKey, outbox);
      this.failures = 0;
      const dropped = result?.dropped ?? [];
      this.saved = dropped.length === 0 ? fingerprint : fingerprintOf(without(outbox, new Set(dropped)));
      if (dropped.length > 0 && this.state === 'ready') this.opts.dropped(dropped);
    } catch (err) {
      this.failures++;
      this.opts.log.warn('cannot save the pending webhook notifications; will retry', {
        directory: this.opts.directoryKey,
        error: describe(err),
      });
    }
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.opts.clock.setTimeout(() => reject(new Error(`no answer within ${this.opts.loadTimeoutMs} ms`)), this.opts.loadTimeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => this.opts.clock.clearTimeout(timer!));
  }

  private cancelTimer(): void {
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Which events wait for which webhook; webhooks with nothing pending do not count. */
function fingerprintOf(outbox: PersistedOutbox): string {
  const entries = outbox.webhooks
    .filter((w) => w.events.length > 0)
    .map((w) => [w.name, w.events.map((e) => e.id)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(entries);
}

function without(outbox: PersistedOutbox, ids: ReadonlySet<string>): PersistedOutbox {
  return { webhooks: outbox.webhooks.map((w) => ({ name: w.name, events: w.events.filter((e) => !ids.has(e.id)) })) };
}

function describe(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0].slice(0, 300);
}
