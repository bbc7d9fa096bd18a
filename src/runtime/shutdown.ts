// Graceful shutdown: on SIGTERM/SIGINT run the registered hooks in reverse order of registration
// (last started, first stopped), each awaited, all within one deadline, then exit. A second signal
// exits at once.
import { type Clock, realClock, sleep } from './clock.js';
import { type Logger, logger as rootLogger } from './logger.js';

/** The slice of `process` the helper uses (tests pass a fake). */
export interface ProcessLike {
  once(signal: NodeJS.Signals, listener: () => void): unknown;
  removeListener(signal: NodeJS.Signals, listener: () => void): unknown;
  exit(code: number): void;
}

export interface ShutdownOptions {
  /** Time for all hooks together before exiting anyway (default 25 s, under the pod's 30 s grace period). */
  timeoutMs?: number;
  signals?: NodeJS.Signals[];
  clock?: Clock;
  logger?: Logger;
  process?: ProcessLike;
}

/** Runs cleanup hooks in reverse order on a signal, then exits. */
export class Shutdown {
  private readonly hooks: Array<{ name: string; run: () => unknown }> = [];
  private readonly timeoutMs: number;
  private readonly signals: NodeJS.Signals[];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly proc: ProcessLike;
  private readonly listeners = new Map<NodeJS.Signals, () => void>();
  private running?: Promise<number>;

  constructor(options: ShutdownOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 25_000;
    this.signals = options.signals ?? ['SIGTERM', 'SIGINT'];
    this.clock = options.clock ?? realClock;
    this.log = (options.logger ?? rootLogger).child({ component: 'shutdown' });
    this.proc = options.process ?? process;
  }

  /** Registers a cleanup hook; hooks run in reverse order of registration. */
  register(name: string, hook: () => unknown): void {
    this.hooks.push({ name, run: hook });
  }

  /** Listens for the signals. */
  install(): void {
    for (const signal of this.signals) {
      const onSignal = () => this.onSignal(signal);
      this.listeners.set(signal, onSignal);
      this.proc.once(signal, onSignal);
    }
  }

  /** Stops listening for the signals. */
  uninstall(): void {
    for (const [signal, listener] of this.listeners) this.proc.removeListener(signal, listener);
    this.listeners.clear();
  }

  /** Runs the hooks and exits with 0, or 1 if a hook failed or the deadline passed. */
  async shutdown(reason: string): Promise<void> {
    const code = await this.run(reason);
    this.uninstall();
    this.proc.exit(code);
  }

  /** Runs the hooks once (later calls share the first run); resolves to the exit code. */
  run(reason: string): Promise<number> {
    this.running ??= this.runHooks(reason);
    return this.running;
  }

  private onSignal(signal: NodeJS.Signals): void {
    if (this.running) {
      this.log.warn('second signal; exiting now', { signal });
      this.proc.exit(130);
      return;
    }
    // Keep listening: Node's default for a second SIGINT/SIGTERM would kill the process without a word.
    const again = () => this.onSignal(signal);
    this.proc.once(signal, again);
    this.listeners.set(signal, again);
    void this.shutdown(`received ${signal}`);
  }

  private async runHooks(reason: string): Promise<number> {
    this.log.info('shutting down', { reason, hooks: this.hooks.length, timeoutMs: this.timeoutMs });
    const deadline = new AbortController();
    const timedOut = sleep(this.clock, this.timeoutMs, deadline.signal).then(() => 'timeout' as const);
    let current = '';
    const all = (async () => {
      let failed = false;
      for (const hook of [...this.hooks].reverse()) {
        current = hook.name;
        try {
          await hook.run();
          this.log.debug('shutdown hook done', { hook: hook.name });
        } catch (err) {
          failed = true;
          this.log.error('shutdown hook failed', { hook: hook.name, err });
        }
      }
      return failed ? 1 : 0;
    })();
    const result = await Promise.race([all, timedOut]);
    deadline.abort();
    if (result === 'timeout') {
      this.log.error('shutdown hooks did not finish in time; exiting', { timeoutMs: this.timeoutMs, hook: current });
      return 1;
    }
    this.log.info('shutdown complete');
    return result;
  }
}
