// Lease-based leader election (coordination.k8s.io/v1), the algorithm of client-go's leaderelection:
// a candidate takes the Lease when it does not exist, is released (no holder) or has not been renewed
// for leaseDuration as observed on the candidate's own clock; every write is an optimistic update at
// the resourceVersion just read, so two candidates can never both succeed. The leader renews it and
// stops working once it could not renew for renewDeadline, which is shorter than leaseDuration, so it
// has stopped before any other replica may consider the Lease expired.
import { ApiException, type CoordinationV1Api, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Clock, realClock, sleep } from './clock.js';
import { type Logger, logger as rootLogger } from './logger.js';
import { leader as leaderGauge } from './metrics.js';

/** The part of a Lease's spec that leader election reads and writes. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions?: number;
}

/** A Lease as read: its record and the resourceVersion to update it at. */
export interface StoredLease {
  record: LeaseRecord;
  resourceVersion: string;
}

/** Thrown by a LeaseClient when the Lease already exists (create) or changed since it was read (update). */
export class LeaseConflictError extends Error {
  constructor(message = 'lease was modified concurrently') {
    super(message);
    this.name = 'LeaseConflictError';
  }
}

/** Reads and writes one Lease object. */
export interface LeaseClient {
  /** The Lease, or undefined when it does not exist. */
  get(): Promise<StoredLease | undefined>;
  /** Creates the Lease; throws LeaseConflictError if it exists. */
  create(record: LeaseRecord): Promise<StoredLease>;
  /** Replaces the Lease's record if it is still at `resourceVersion`; throws LeaseConflictError otherwise. */
  update(record: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
}

/** A LeaseClient for the Lease `namespace/name` through client-node's CoordinationV1Api. */
export function coordinationLeaseClient(api: CoordinationV1Api, namespace: string, name: string): LeaseClient {
  let last: V1Lease | undefined; // keeps labels/annotations others set when we replace the spec
  const stored = (lease: V1Lease): StoredLease => {
    last = lease;
    const spec = lease.spec ?? {};
    return {
      resourceVersion: lease.metadata?.resourceVersion ?? '',
      record: {
        holderIdentity: spec.holderIdentity,
        leaseDurationSeconds: spec.leaseDurationSeconds,
        acquireTime: spec.acquireTime ? new Date(spec.acquireTime) : undefined,
        renewTime: spec.renewTime ? new Date(spec.renewTime) : undefined,
        leaseTransitions: spec.leaseTransitions,
      },
    };
  };
  const spec = (r: LeaseRecord): V1Lease['spec'] => ({
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    acquireTime: r.acquireTime ? new V1MicroTime(r.acquireTime.getTime()) : undefined,
    renewTime: r.renewTime ? new V1MicroTime(r.renewTime.getTime()) : undefined,
    leaseTransitions: r.leaseTransitions,
  });
  const conflictsAs = (err: unknown, codes: number[]): never => {
    if (err instanceof ApiException && codes.includes(err.code)) throw new LeaseConflictError();
    throw err;
  };
  return {
    async get() {
      try {
        return stored(await api.readNamespacedLease({ name, namespace }));
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return undefined;
        throw err;
      }
    },
    async create(record) {
      const body: V1Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: spec(record) };
      return stored(await api.createNamespacedLease({ namespace, body }).catch((err) => conflictsAs(err, [409])));
    },
    async update(record, resourceVersion) {
      const metadata = last?.metadata?.resourceVersion === resourceVersion ? last.metadata : { name, namespace };
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { ...metadata, name, namespace, resourceVersion },
        spec: spec(record),
      };
      // 404: deleted since it was read; the next attempt creates it again.
      return stored(await api.replaceNamespacedLease({ name, namespace, body }).catch((err) => conflictsAs(err, [404, 409])));
    },
  };
}

/** A unique candidate identity: the hostname (the pod name in Kubernetes) plus a random suffix. */
export function defaultIdentity(): string {
  return `${hostname()}_${randomBytes(4).toString('hex')}`;
}

export interface LeaderElectorOptions {
  lease: LeaseClient;
  /** Called when this replica becomes leader; stop all work when `signal` aborts. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called after leadership is lost or given up, once the started work has been signalled. */
  onStoppedLeading?: () => void | Promise<void>;
  identity?: string;
  clock?: Clock;
  logger?: Logger;
  /** How long others wait after the last renewal they saw before taking over (default 15 s). */
  leaseDurationMs?: number;
  /** Time between renewals while leading (default 5 s). */
  renewIntervalMs?: number;
  /** Give up leadership when no renewal succeeded for this long; must be < leaseDuration (default 10 s). */
  renewDeadlineMs?: number;
  /** Time between attempts to acquire, and between failed renewals (default 2 s, +≤20% jitter). */
  retryPeriodMs?: number;
  /** Random source in [0, 1) for jitter (tests). */
  random?: () => number;
}

type Attempt = 'ok' | 'held-by-other' | 'failed';

/** Campaigns for a Lease and runs `onStartedLeading` while it holds it. */
export class LeaderElector {
  /** This candidate's holderIdentity. */
  readonly identity: string;
  private readonly lease: LeaseClient;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly leaseDurationMs: number;
  private readonly renewIntervalMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;

  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private leading = false;
  private work?: { abort: AbortController; started: Promise<void> };
  private observed?: { resourceVersion: string; at: number; durationMs: number; holder?: string };

  constructor(private readonly options: LeaderElectorOptions) {
    this.identity = options.identity ?? defaultIdentity();
    this.lease = options.lease;
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewIntervalMs = options.renewIntervalMs ?? 5_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (this.renewDeadlineMs >= this.leaseDurationMs) throw new Error('renewDeadline must be shorter than leaseDuration');
    if (this.renewIntervalMs >= this.renewDeadlineMs) throw new Error('renewInterval must be shorter than renewDeadline');
    this.log = (options.logger ?? rootLogger).child({ component: 'leader-election', identity: this.identity });
  }

  /** Starts campaigning in the background. */
  start(): void {
    this.loop ??= this.run().catch((err) => {
      this.log.error('leader election loop failed', { err });
    });
  }

  /** Stops campaigning; if leading, signals the work, awaits onStoppedLeading, then releases the Lease. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** True while this replica holds the Lease. */
  isLeader(): boolean {
    return this.leading;
  }

  private async run(): Promise<void> {
    const stopSignal = this.stopping.signal;
    while (!stopSignal.aborted) {
      if ((await this.attempt()) !== 'ok') {
        await sleep(this.clock, this.retryPeriodMs * (1 + 0.2 * this.random()), stopSignal);
        continue;
      }
      this.startLeading();
      const reason = await this.renewWhileLeading(stopSignal);
      await this.stopLeading(reason);
    }
  }

  /** Renews until leadership is lost or stop is requested; returns why it ended. */
  private async renewWhileLeading(stopSignal: AbortSignal): Promise<string> {
    let lastRenewal = this.clock.now();
    let lastOk = true;
    for (;;) {
      await sleep(this.clock, lastOk ? this.renewIntervalMs : this.retryPeriodMs, stopSignal);
      if (stopSignal.aborted) return 'shutting down';
      const remaining = lastRenewal + this.renewDeadlineMs - this.clock.now();
      const result = await this.attempt(remaining);
      if (result === 'ok') {
        lastRenewal = this.clock.now();
        lastOk = true;
        continue;
      }
      if (result === 'held-by-other') return `lease taken over by ${this.observed?.holder}`;
      lastOk = false;
      if (this.clock.now() - lastRenewal >= this.renewDeadlineMs) {
        return `could not renew the lease for ${this.clock.now() - lastRenewal} ms`;
      }
    }
  }

  private startLeading(): void {
    this.leading = true;
    leaderGauge.set(1);
    this.log.info('became leader');
    const abort = new AbortController();
    const started = (async () => this.options.onStartedLeading(abort.signal))().catch((err) => {
      this.log.error('onStartedLeading failed', { err });
    });
    this.work = { abort, started };
  }

  private async stopLeading(reason: string): Promise<void> {
    const work = this.work;
    this.work = undefined;
    this.leading = false;
    leaderGauge.set(0);
    if (reason === 'shutting down') this.log.info('giving up leadership', { reason });
    else this.log.warn('lost leadership', { reason });
    work?.abort.abort(new Error(reason));
    try {
      await this.options.onStoppedLeading?.();
    } catch (err) {
      this.log.error('onStoppedLeading failed', { err });
    }
    await work?.started;
    if (this.stopping.signal.aborted) await this.release();
  }

  /** One acquire-or-renew round trip, bounded by `timeoutMs` and by `stop`. */
  private async attempt(timeoutMs = this.renewDeadlineMs): Promise<Attempt> {
    const done = new AbortController();
    const abandon = AbortSignal.any([done.signal, this.stopping.signal]);
    const timedOut = sleep(this.clock, Math.max(0, timeoutMs), abandon).then(() => 'timeout' as const);
    try {
      const result = await Promise.race([this.tryAcquireOrRenew(), timedOut]);
      if (result === 'timeout') {
        if (!this.stopping.signal.aborted) this.log.warn('lease request timed out', { timeoutMs });
        return 'failed';
      }
      return result;
    } finally {
      done.abort();
    }
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const now = this.clock.now();
    const next: LeaseRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: new Date(now),
      renewTime: new Date(now),
      leaseTransitions: 0,
    };
    try {
      const current = await this.lease.get();
      if (!current) {
        this.observe(await this.lease.create(next));
        return 'ok';
      }
      this.observe(current);
      const holder = current.record.holderIdentity;
      const mine = holder === this.identity;
      if (holder && !mine && !this.observedExpired()) return 'held-by-other';
      if (mine) next.acquireTime = current.record.acquireTime ?? next.acquireTime;
      next.leaseTransitions = (current.record.leaseTransitions ?? 0) + (mine ? 0 : 1);
      this.observe(await this.lease.update(next, current.resourceVersion));
      return 'ok';
    } catch (err) {
      if (err instanceof LeaseConflictError) this.log.debug('lease changed concurrently');
      else this.log.warn('lease request failed', { err });
      return 'failed';
    }
  }

  /** Notes when the Lease's content last changed, on our clock: expiry is judged from that, not from renewTime. */
  private observe(lease: StoredLease): void {
    if (this.observed?.resourceVersion === lease.resourceVersion) return;
    this.observed = {
      resourceVersion: lease.resourceVersion,
      at: this.clock.now(),
      durationMs: (lease.record.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000,
      holder: lease.record.holderIdentity,
    };
  }

  private observedExpired(): boolean {
    return !!this.observed && this.observed.at + this.observed.durationMs <= this.clock.now();
  }

  /** Hands the Lease back so a successor need not wait for it to expire (bounded by renewDeadline). */
  private async release(): Promise<void> {
    const done = new AbortController();
    const timedOut = sleep(this.clock, this.renewDeadlineMs, done.signal).then(() => {
      if (!done.signal.aborted) this.log.warn('releasing the lease timed out; a successor takes over when it expires');
    });
    await Promise.race([this.releaseNow(), timedOut]);
    done.abort();
  }

  private async releaseNow(): Promise<void> {
    try {
      const current = await this.lease.get();
      if (!current || current.record.holderIdentity !== this.identity) return;
      const now = new Date(this.clock.now());
      await this.lease.update(
        {
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: current.record.leaseTransitions,
        },
        current.resourceVersion,
      );
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn('could not release the lease; a successor takes over when it expires', { err });
    }
  }
}
