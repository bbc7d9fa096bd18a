// One way for every controller to turn what a reconcile returned or threw into what the work queue does
// next, in the spirit of controller-runtime's reconcileHandler:
//   a result with requeueAfterMs → forget the failures, come back after that long;
//   a result without            → forget the failures, wait for the next watch event;
//   a TerminalError             → forget, log, no retry (only a change to the object helps);
//   an error with retryAfterMs  → come back when the other side said (at least a second);
//   any other error             → retry with per-key exponential backoff.
import { WorkQueue, runWorkers } from './workqueue.js';

export interface ReconcileOutcome {
  requeueAfterMs?: number;
}

/** A failure no retry can fix; the key is dropped until something about the object changes. */
export class TerminalError extends Error {}

type LogFn = (message: string, meta?: Record<string, unknown>) => unknown;
export interface ControllerLogger {
  error: LogFn;
  debug: LogFn;
}

export interface ControllerOptions {
  name: string;
  workers: number;
  logger: ControllerLogger;
  reconcile: (key: string) => Promise<ReconcileOutcome | void>;
  /** Errors expected in operation (logged at debug; the reconcile reported them already). */
  isExpected?: (err: unknown) => boolean;
}

export class Controller {
  readonly queue: WorkQueue;
  private workers?: Promise<void>;

  constructor(private readonly opts: ControllerOptions) {
    this.queue = new WorkQueue({ name: opts.name });
  }

  start(): void {
    this.workers ??= runWorkers(this.queue, this.opts.workers, (key) => this.handle(key));
  }

  async stop(): Promise<void> {
    this.queue.shutdown();
    await this.workers;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  private async handle(key: string): Promise<void> {
    let outcome: ReconcileOutcome | void;
    try {
      outcome = await this.opts.reconcile(key);
    } catch (err) {
      this.failed(key, err);
      return;
    }
    this.queue.forget(key);
    if (outcome?.requeueAfterMs !== undefined) this.queue.addAfter(key, outcome.requeueAfterMs);
  }

  private failed(key: string, err: unknown): void {
    const meta = { controller: this.opts.name, key, error: String((err as Error)?.message ?? err).split('\n')[0] };
    if (err instanceof TerminalError) {
      this.queue.forget(key);
      this.opts.logger.error('reconcile failed for good; waiting for a change', meta);
      return;
    }
    const retryAfterMs = (err as { retryAfterMs?: unknown })?.retryAfterMs;
    if (typeof retryAfterMs === 'number') this.queue.addAfter(key, Math.max(retryAfterMs, 1000));
    else this.queue.addRateLimited(key);
    if (this.opts.isExpected?.(err)) this.opts.logger.debug('reconcile failed; retrying', meta);
    else this.opts.logger.error('reconcile failed; retrying with backoff', { ...meta, stack: (err as Error)?.stack });
  }
}
