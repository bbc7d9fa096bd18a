// The DirectorySync reconciler against an in-memory apiserver and a fake driver: which API calls a
// reconcile makes, in which order, and what survives a failure or a crash at each point.
import { expect } from 'chai';
import { API_VERSION, FINALIZER, type DirectorySync, type User, type Webhook } from '../../../src/api/v1alpha1/index.js';
import { DirectorySyncReconciler, type EventSink, type ReconcileResult, type SyncObserver } from '../../../src/controllers/directorysync/reconciler.js';
import type { RevocationNotifier } from '../../../src/controllers/directorysync/notifications.js';
import type { CloudEvent } from '../../../src/notify/cloudevent.js';
import type { WebhookTarget } from '../../../src/notify/notifier.js';
import type { DriverContext, ProviderDriver } from '../../../src/providers/types.js';
import { IdpHttpClient } from '../../../src/providers/http.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import { TransientError } from '../../../src/errors.js';
import type { IdpKind, KubeApi } from '../../../src/kube/client.js';
import { registerSecret } from '../../../src/runtime/logger.js';
import { FakeApiError, MemoryKube, type KubeCall } from '../../support/memory-kube.js';
import { directory, group, snapshot, user } from '../../support/builders.js';

const NS = 'team-a';
const DIR = 'corp';
const T0 = Date.parse('2026-03-01T00:00:00Z');

interface ClusterEvent {
  name?: string;
  kind: string;
  object: string;
  type: string;
  reason: string;
  note: string;
}

/** One operator process: its own reconciler, event writer, metric and notifier; all of it can die at once. */
class Process {
  dead = false;
  readonly metric: string[] = [];
  readonly published: CloudEvent[] = [];
  readonly reconciler: DirectorySyncReconciler;
  private killAfter?: (call: string) => boolean;

  constructor(private readonly rig: Rig) {
    const hang = <T>(): Promise<T> => new Promise<T>(() => {});
    const kube = new Proxy(rig.kube, {
      get: (target, prop) => {
        const value = (target as unknown as Record<string | symbol, unknown>)[prop];
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (this.dead) return hang();
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          this.maybeDie(`${String(prop)} ${describeCall(prop, args)}`);
          return this.dead ? hang() : result;
        };
      },
    }) as KubeApi;
    const events: EventSink = {
      emit: (ref, type, reason, note) => {
        if (!this.dead) rig.events.push({ kind: ref.kind, object: ref.name, type, reason, note });
      },
      once: async (ref, name, type, reason, note) => {
        if (this.dead) return hang();
        if (rig.eventsDown) return false;
        if (!rig.events.some((e) => e.name === name)) rig.events.push({ name, kind: ref.kind, object: ref.name, type, reason, note });
        this.maybeDie(`event ${reason}`);
        return this.dead ? hang() : true;
      },
    };
    const notifier: RevocationNotifier = {
      configure: (_key: string, _targets: WebhookTarget[]) => {},
      publish: (_key, published) => {
        if (this.dead) return;
        this.published.push(...published.filter((e) => !this.published.some((p) => p.id === e.id)));
        this.maybeDie('publish');
      },
      forget: () => {},
    };
    this.reconciler = new DirectorySyncReconciler({
      kube,
      drivers: {
        okta: (ctx) => {
          rig.driverContext = ctx;
          return rig.driver;
        },
      },
      events,
      log: { info() {}, warn() {}, error() {} },
      now: () => rig.now,
      registerSecret,
      notifier,
      countRevocation: (labels) => {
        if (!this.dead) this.metric.push(`${labels.directory}/${labels.reason}`);
      },
      jitter: 0,
      writeConcurrency: rig.writeConcurrency,
      fetchTimeoutMs: rig.fetchTimeoutMs,
      confirmAfterMs: rig.confirmAfterMs,
      observer: rig.observer,
    });
  }

  dieAfter(predicate: (call: string) => boolean): this {
    this.killAfter = predicate;
    return this;
  }

  /** Runs one reconcile; a dead process's reconcile never ends, so it is not awaited past `ms`. */
  async reconcile(ms = 300): Promise<ReconcileResult | Error | 'died'> {
    const run = this.reconciler.reconcile(NS, DIR).catch((err: Error) => err);
    const settled = await Promise.race([run, new Promise<'died'>((resolve) => setTimeout(() => resolve('died'), ms))]);
    return this.dead ? 'died' : settled;
  }

  /** The notifier delivers everything published so far to every webhook. */
  deliverWebhooks(webhook: string): CloudEvent[] {
    const delivered = this.published.splice(0);
    for (const e of delivered) this.reconciler.signals.settled(`${NS}/${DIR}`, webhook, e, 'delivered');
    this.rig.webhookDeliveries.push(...delivered);
    return delivered;
  }

  private maybeDie(call: string): void {
    if (this.killAfter?.(call)) this.dead = true;
  }
}

function describeCall(verb: string | symbol, args: unknown[]): string {
  const [kind, second] = args as [IdpKind, { metadata?: { name?: string }; spec?: { state?: string } } | string];
  if (verb === 'apply' && typeof second === 'object') return `${kind} ${second.metadata?.name} ${second.spec?.state ?? ''}`.trim();
  return `${String(kind)} ${typeof second === 'string' ? second : ''}`.trim();
}

class Rig {
  readonly kube = new MemoryKube();
  readonly events: ClusterEvent[] = [];
  readonly webhookDeliveries: CloudEvent[] = [];
  eventsDown = false;
  now = T0;
  writeConcurrency = 4;
  fetchTimeoutMs?: number;
  confirmAfterMs?: number;
  observer?: SyncObserver;
  snap: DirectorySnapshot;
  fetchError?: unknown;
  fetchHook?: (signal?: AbortSignal) => Promise<void>;
  readonly driver: ProviderDriver;
  /** What the reconciler handed the driver factory last. */
  driverContext?: DriverContext;

  /** options.complete of each fetch, in order. */
  completeReads: boolean[] = [];

  constructor(snap: DirectorySnapshot, spec: Partial<DirectorySync['spec']> = {}, secret: Record<string, string> = { apiToken: '00abcdefghijklmnopqrstuvwxyz' }) {
    this.snap = snap;
    this.kube.seedSecret(NS, 'okta', secret);
    this.kube.seed('DirectorySync', {
      apiVersion: API_VERSION,
      kind: 'DirectorySync',
      metadata: { name: DIR, namespace: NS, generation: 1, finalizers: [FINALIZER] },
      spec: directory(spec).spec,
    });
    this.driver = {
      type: 'okta',
      fetch: async (options) => {
        this.completeReads.push(options.complete ?? false);
        await this.fetchHook?.(options.signal);
        if (this.fetchError) throw this.fetchError;
        return structuredClone(this.snap);
      },
      verify: async () => ({ ok: true, checks: [] }),
    };
  }

  process(): Process {
    return new Process(this);
  }

  users(): User[] {
    return this.kube.all<User>('User', NS);
  }

  user(login: string): User {
    return this.users().find((u) => u.spec.login === login)!;
  }

  directory(): DirectorySync {
    return this.kube.peek<DirectorySync>('DirectorySync', NS, DIR)!;
  }

  condition(type: string) {
    return this.directory().status?.conditions?.find((c) => c.type === type);
  }
}

const team = (annState: 'Active' | 'Suspended' = 'Active') =>
  snapshot(
    [user('u1', 'ann@x.io', { state: annState }), user('u2', 'ben@x.io'), user('u3', 'cat@x.io')],
    [group('g1', 'Eng', ['u1', 'u2']), group('g2', 'Ops', ['u1', 'u3'])],
  );
const vpn: Webhook = { name: 'vpn', url: 'https://vpn.example.com/hook', secretRef: { name: 'vpn-signing', key: 'signingSecret' }, allowInsecureLoopback: false } as Webhook;

describe('controllers/directorysync reconciler (in-memory apiserver)', () => {
  describe('revocation signals survive a crash at any point', () => {
    const crashPoints: [string, (call: string) => boolean][] = [
      ['after the User write that suspends', (c) => /^apply User .* Suspended$/.test(c)],
      ['after the Event was written', (c) => c === 'event UserSuspended'],
      ['after the webhook was handed to the notifier', (c) => c === 'publish'],
      ['after the delivered signals were struck', (c) => /^apply User .* Suspended$/.test(c) && rigStruck],
    ];
    let rigStruck = false;

    for (const [point, predicate] of crashPoints) {
      it(`delivers exactly one Event, one webhook and one count when the operator dies ${point}`, async () => {
        const rig = new Rig(team(), { notifications: { webhooks: [vpn] } });
        rig.kube.seedSecret(NS, 'vpn-signing', { signingSecret: 'whsec_0123456789abcdef' });
        const first = rig.process();
        expect(await first.reconcile()).to.have.property('requeueAfterMs');
        rig.snap = team('Suspended');
        rig.now += 60_000;

        // The strike is the second User write of the suspension; only that one kills at the last point.
        let suspensionWrites = 0;
        rigStruck = false;
        const dying = rig.process().dieAfter((call) => {
          if (/^apply User .* Suspended$/.test(call)) rigStruck = ++suspensionWrites === 2;
          return predicate(call);
        });
        expect(await dying.reconcile()).to.equal('died');
        const ann = rig.user('ann@x.io');
        expect(ann.spec).to.deep.include({ state: 'Suspended', groups: [] });
        expect(ann.status!.revocations).to.have.length(1);

        const next = rig.process();
        expect(await next.reconcile()).to.have.property('requeueAfterMs');
        next.deliverWebhooks('vpn');
        await settle();
        expect(await next.reconcile()).to.have.property('requeueAfterMs');
        next.deliverWebhooks('vpn');

        expect(rig.events.filter((e) => e.reason === 'UserSuspended' && e.object === ann.metadata.name)).to.have.length(1);
        expect([...dying.metric, ...next.metric].filter((m) => m === 'corp/Suspended')).to.have.length(1);
        const suspendedHooks = rig.webhookDeliveries.filter((e) => e.type === 'io.idpsync.user.suspended');
        expect(suspendedHooks).to.have.length(1);
        expect(suspendedHooks[0].subject).to.equal(`users/${ann.metadata.name}`);
        expect(rig.user('ann@x.io').status!.revocations![0].pending).to.deep.equal([]);
      });
    }

    it('keeps the signals of a suspension whose sync failed on another write, and delivers them once the IdP is fixed', async () => {
      const rig = new Rig(team());
      await rig.process().reconcile();
      rig.snap = team('Suspended');
      rig.snap.groups.push(group('g3', 'New', ['u2']));
      rig.kube.fail((c) => (c.verb === 'apply' && c.kind === 'Group' ? new FakeApiError(503, 'etcdserver: leader changed') : undefined));
      rig.eventsDown = true;
      const p = rig.process();
      const failed = await p.reconcile();
      expect(failed).to.be.instanceOf(TransientError);
      expect((failed as TransientError).message).to.match(/leader changed.*applied 1 of \d+ planned writes/);
      expect(rig.user('ann@x.io').spec.state).to.equal('Suspended');
      expect(rig.user('ann@x.io').status!.revocations![0].pending).to.deep.equal(['Event']);
      expect(p.metric).to.deep.equal(['corp/Suspended']);
      expect(rig.condition('IdpReachable')?.status).to.not.equal('False');

      rig.kube.clearFaults();
      rig.eventsDown = false;
      await p.reconcile();
      expect(rig.events.filter((e) => e.reason === 'UserSuspended')).to.have.length(1);
      expect(rig.events.filter((e) => e.reason === 'AccessRevoked')).to.have.length(1);
      expect(p.metric).to.deep.equal(['corp/Suspended']);
      expect(rig.user('ann@x.io').status!.revocations![0].pending).to.deep.equal([]);
    });

    it('keeps a webhook owed when its delivery cannot be recorded, and records it on a later delivery', async () => {
      const rig = new Rig(team(), { notifications: { webhooks: [vpn] } });
      rig.kube.seedSecret(NS, 'vpn-signing', { signingSecret: 'whsec_0123456789abcdef' });
      await rig.process().reconcile();
      rig.snap = team('Suspended');
      const p = rig.process();
      await p.reconcile();
      rig.kube.fail((c) => (c.verb === 'get' && c.kind === 'User' ? new FakeApiError(503, 'etcdserver: leader changed') : undefined));
      p.deliverWebhooks('vpn');
      await settle();
      expect(rig.user('ann@x.io').status!.revocations![0].pending).to.deep.equal(['Webhook/vpn']);

      rig.kube.clearFaults();
      await p.reconcile();
      p.deliverWebhooks('vpn');
      await settle();
      expect(rig.user('ann@x.io').status!.revocations![0].pending).to.deep.equal([]);
    });

    it('delivers pending signals even while the IdP is failing', async () => {
      const rig = new Rig(team());
      await rig.process().reconcile();
      rig.snap = team('Suspended');
      rig.eventsDown = true;
      await rig.process().reconcile();
      rig.eventsDown = false;
      rig.fetchError = new TransientError('IdpUnavailable', 'okta: 503');
      const p = rig.process();
      expect(await p.reconcile()).to.be.instanceOf(TransientError);
      expect(rig.events.filter((e) => e.reason === 'UserSuspended')).to.have.length(1);
      expect(rig.condition('IdpReachable')).to.deep.include({ status: 'False', reason: 'IdpUnavailable' });
    });
  });

  describe('a fail-stop, safety-ordered apply', () => {
    it('writes every removal of access before any grant', async () => {
      const rig = new Rig(team());
      await rig.process().reconcile();
      const start = rig.kube.calls.length;
      // ann is suspended; cat joins Eng; a new group appears with ben in it.
      rig.snap = snapshot(
        [user('u1', 'ann@x.io', { state: 'Suspended' }), user('u2', 'ben@x.io'), user('u3', 'cat@x.io')],
        [group('g1', 'Eng', ['u1', 'u2', 'u3']), group('g2', 'Ops', ['u1', 'u3']), group('g4', 'Sec', ['u2'])],
      );
      await rig.process().reconcile();
      const writes = rig.kube.calls.slice(start).filter((c) => c.verb === 'apply' && (c.kind === 'User' || c.kind === 'Group'));
      const order = writes.map((c) => `${c.kind}:${(c.body as { spec: { login?: string; displayName?: string } }).spec.login ?? (c.body as { spec: { displayName: string } }).spec.displayName}`);
      expect(order[0]).to.equal('User:ann@x.io');
      expect(order.indexOf('User:ann@x.io')).to.be.lessThan(order.indexOf('Group:Sec'));
      expect(order.indexOf('Group:Sec')).to.be.lessThan(order.indexOf('User:ben@x.io'));
      expect(order.indexOf('Group:Eng')).to.be.lessThan(order.indexOf('User:cat@x.io'));
    });

    it('starts no write after one failed, and returns only when the writes in flight have ended', async () => {
      const many = snapshot(
        Array.from({ length: 60 }, (_, i) => user(`u${i}`, `p${i}@x.io`)),
        [group('g1', 'All', Array.from({ length: 60 }, (_, i) => `u${i}`))],
      );
      const rig = new Rig(many);
      rig.writeConcurrency = 8;
      let inFlight = 0;
      let maxAfterReturn = 0;
      let returned = false;
      let failedAt = -1;
      rig.kube.fail(async (c: KubeCall) => {
        if (c.verb !== 'apply' || c.kind !== 'User') return undefined;
        inFlight++;
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (returned) maxAfterReturn++;
        const n = rig.kube.writes({ kind: 'User' }).length;
        if (n === 20 && failedAt < 0) {
          failedAt = n;
          return new FakeApiError(500, 'Internal error occurred: etcd timeout');
        }
        return undefined;
      });
      const result = await rig.process().reconcile();
      returned = true;
      await new Promise((r) => setTimeout(r, 50));
      expect(result).to.be.instanceOf(TransientError);
      expect(inFlight).to.equal(0);
      expect(maxAfterReturn).to.equal(0);
      // Only the writes already in flight when the failure came may follow it.
      expect(rig.kube.writes({ kind: 'User' }).length).to.be.at.most(failedAt + rig.writeConcurrency - 1);
      expect(rig.condition('Ready')?.message).to.match(/applied \d+ of 61 planned writes/);
    });
  });

  describe('one refused object never blocks the directory', () => {
    it('skips an object the apiserver refuses, names it, and lets a suspension through with its signals', async () => {
      const rig = new Rig(team());
      await rig.process().reconcile();
      rig.snap = team('Suspended');
      rig.snap.users.push(user('u9', 'dan@x.io'));
      rig.kube.fail((c) =>
        c.verb === 'apply' && c.kind === 'User' && (c.body as { spec: { login: string } }).spec.login === 'dan@x.io'
          ? new FakeApiError(422, 'User.idpsync.io "corp-dan" is invalid: spec.displayName: Too long: may not be longer than 512')
          : undefined,
      );
      const p = rig.process();
      expect(await p.reconcile()).to.have.property('requeueAfterMs');
      expect(rig.user('ann@x.io').spec.state).to.equal('Suspended');
      expect(rig.events.filter((e) => e.reason === 'UserSuspended')).to.have.length(1);
      expect(p.metric).to.deep.equal(['corp/Suspended']);
      const rejected = rig.events.filter((e) => e.reason === 'ObjectRejected');
      expect(rejected).to.have.length(1);
      expect(rejected[0].note).to.match(/User corp-dan-[0-9a-f]+.*Too long/);
      const status = rig.directory().status!;
      expect(status.skipped).to.have.length(1);
      expect(status.skipped![0]).to.deep.include({ kind: 'User' });
      expect(status.skipped![0].message).to.match(/Too long/);
      expect(rig.condition('Ready')).to.deep.include({ status: 'False', reason: 'ObjectsRejected' });
      expect(JSON.stringify(status)).to.not.match(/x-secret-looking-header|HTTP-Code/);
    });

    it('shortens a display name over the limit instead of failing, and refuses a duplicate IdP id with a Warning', async () => {
      const snap = team();
      snap.users[1].displayName = 'B'.repeat(601);
      snap.users.push(user('u3', 'cat-again@x.io'));
      const rig = new Rig(snap);
      expect(await rig.process().reconcile()).to.have.property('requeueAfterMs');
      expect(rig.user('ben@x.io').spec.displayName).to.have.length(512);
      expect(rig.users().filter((u) => u.spec.idpId === 'u3')).to.have.length(1);
      expect(rig.user('cat@x.io')).to.not.equal(undefined);
      const warning = rig.events.find((e) => e.reason === 'RecordsRefused')!;
      expect(warning.type).to.equal('Warning');
      expect(warning.note).to.match(/User u3: its id is listed more than once/);
      expect(rig.directory().status!.skippedCount).to.equal(1);
      expect(rig.directory().status!.counts).to.deep.include({ users: 3 });
      await rig.process().reconcile(); // status.writes drops to 0
      const writes = rig.kube.writes().length;
      await rig.process().reconcile();
      expect(rig.kube.writes().slice(writes).map((c) => `${c.verb} ${c.kind} ${c.name}`)).to.deep.equal([]);
    });
  });

  describe('errors that say what happened', () => {
    const cases: { name: string; fault: (c: KubeCall) => Error | undefined; reason: string; idpReachable: boolean }[] = [
      {
        name: 'a 422 on the status write',
        fault: (c) => (c.verb === 'applyStatus' && c.kind === 'DirectorySync' ? new FakeApiError(422, 'status.counts.users: Invalid value') : undefined),
        reason: 'ApiServerRejected',
        idpReachable: true,
      },
      {
        name: 'a 429 while listing',
        fault: (c) => (c.verb === 'list' ? new FakeApiError(429, 'storage is (re)initializing') : undefined),
        reason: 'ApiServerUnavailable',
        idpReachable: true,
      },
      {
        name: 'a 409 on the finalizer patch',
        fault: (c) => (c.verb === 'list' ? new FakeApiError(409, 'the object has been modified') : undefined),
        reason: 'Conflict',
        idpReachable: true,
      },
    ];
    for (const tc of cases) {
      it(`calls ${tc.name} ${tc.reason}, without headers, and leaves IdpReachable alone`, async () => {
        const rig = new Rig(team());
        await rig.process().reconcile();
        rig.kube.fail(tc.fault);
        const result = await rig.process().reconcile();
        expect(result).to.be.instanceOf(TransientError);
        expect((result as TransientError).reason).to.equal(tc.reason);
        expect((result as TransientError).message).to.not.match(/HTTP-Code|Headers|x-secret-looking-header/);
        if (tc.reason !== 'ApiServerRejected') {
          expect(rig.condition('IdpReachable')?.status).to.equal('True');
          expect(rig.condition('Ready')).to.deep.include({ status: 'False', reason: tc.reason });
        }
      });
    }

    it('says the same thing about the same failure, so repeated failures fold into one Event series', async () => {
      const rig = new Rig(team());
      await rig.process().reconcile();
      rig.kube.fail((c) => (c.verb === 'list' ? new FakeApiError(429, 'storage is (re)initializing') : undefined));
      const p = rig.process();
      for (let i = 0; i < 3; i++) {
        rig.now += 1000;
        await p.reconcile();
      }
      const notes = rig.events.filter((e) => e.reason === 'SyncFailed').map((e) => e.note);
      expect(notes).to.have.length(3);
      expect(new Set(notes).size, 'one distinct note: the recorder counts repeats of it in one Event').to.equal(1);
      expect(notes[0]).to.equal('listing the objects of this directory: storage is (re)initializing');
    });

    it('calls a refused connection to the apiserver ApiServerUnavailable, not an internal error', async () => {
      const rig = new Rig(team());
      await rig.process().reconcile();
      rig.kube.fail((c) =>
        c.verb === 'list' ? Object.assign(new Error('request to https://127.0.0.1:6443/apis failed, reason: connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }) : undefined,
      );
      const result = await rig.process().reconcile();
      expect(result).to.be.instanceOf(TransientError);
      expect(result).to.deep.include({ reason: 'ApiServerUnavailable', origin: 'cluster' });
      expect((result as TransientError).message).to.equal('listing the objects of this directory: request to https://127.0.0.1:6443/apis failed, reason: connect ECONNREFUSED 127.0.0.1:6443');
      expect(rig.condition('IdpReachable')?.status).to.equal('True');
    });

    it('calls a TypeError in a driver an InternalError, not a network error', async () => {
      const rig = new Rig(team());
      rig.fetchError = new TypeError("Cannot read properties of undefined (reading 'profile')");
      const result = await rig.process().reconcile();
      expect(result).to.have.property('reason', 'InternalError');
      expect(rig.condition('Ready')).to.deep.include({ status: 'False', reason: 'InternalError' });
      expect(rig.condition('IdpReachable')).to.equal(undefined);
    });

    it('stalls on a credential that cannot be sent, naming its key and never its value', async () => {
      const token = '00SECRETtokenvalue\nSECRETsecondline';
      const rig = new Rig(team(), {}, { apiToken: token });
      rig.fetchError = new TransientError('NetworkError', `okta: GET /api/v1/users failed: Headers.append: "SSWS ${token}" is an invalid header value.`);
      const result = await rig.process().reconcile();
      expect(result).to.deep.include({ stalled: true });
      const status = rig.directory().status!;
      expect(rig.condition('Stalled')).to.deep.include({ status: 'True', reason: 'InvalidCredentials' });
      expect(status.lastError).to.match(/key "apiToken" in Secret okta/);
      expect(JSON.stringify(status)).to.not.include('SECRET');
      expect(JSON.stringify(rig.events)).to.not.include('SECRET');
    });

    it('redacts a registered secret from every status message', async () => {
      const rig = new Rig(team(), {}, { apiToken: 'tok_ABCDEFGHIJKLMNOP' });
      rig.fetchError = new TransientError('IdpUnavailable', 'okta: echoed tok_ABCDEFGHIJKLMNOP in an error page');
      await rig.process().reconcile();
      expect(JSON.stringify(rig.directory().status)).to.not.include('tok_ABCDEFGHIJKLMNOP');
    });
  });

  describe('GitOps health', () => {
    it('reads Reconciling from the moment a new generation is picked up until its sync ends', async () => {
      const rig = new Rig(team());
      let seenWhileFetching: string | undefined;
      rig.fetchHook = async () => {
        seenWhileFetching = JSON.stringify(rig.condition('Reconciling'));
      };
      await rig.process().reconcile();
      expect(JSON.parse(seenWhileFetching!)).to.deep.include({ status: 'True', reason: 'Progressing', message: 'Syncing generation 1' });
      expect(rig.condition('Reconciling')).to.equal(undefined);
      expect(rig.condition('Ready')).to.deep.include({ status: 'True' });
      const statusWrites = rig.kube.writes({ verb: 'applyStatus', kind: 'DirectorySync' }).length;
      await rig.process().reconcile();
      expect(rig.kube.writes({ verb: 'applyStatus', kind: 'DirectorySync' }).length - statusWrites, 'no progress write for a generation already synced').to.be.at.most(1);
    });

    it('moves lastTransitionTime only when a condition changes status', async () => {
      const rig = new Rig(team());
      await rig.process().reconcile();
      const first = rig.condition('Ready')!.lastTransitionTime;
      rig.now += 60_000;
      rig.snap.users.push(user('u7', 'eve@x.io'));
      await rig.process().reconcile();
      expect(rig.condition('Ready')!.message).to.contain('4 active user(s)');
      expect(rig.condition('Ready')!.lastTransitionTime).to.equal(first);
    });
  });

  describe('deletion', () => {
    it('removes the finalizer even when cleanup fails for a reason no retry can fix, and says so', async () => {
      const rig = new Rig(team());
      await rig.process().reconcile();
      rig.kube.seed('DirectorySync', { ...rig.directory(), metadata: { ...rig.directory().metadata, deletionTimestamp: new Date(T0) } });
      rig.kube.fail((c) => (c.verb === 'list' && c.kind === 'User' ? new FakeApiError(400, 'unable to parse requirement: invalid label value') : undefined));
      expect(await rig.process().reconcile()).to.deep.equal({ stalled: true });
      expect(rig.directory().metadata.finalizers ?? []).to.not.include(FINALIZER);
      expect(rig.events.find((e) => e.reason === 'CleanupIncomplete')?.note).to.contain('invalid label value');
    });

    it('keeps the finalizer and retries while the apiserver is unavailable', async () => {
      const rig = new Rig(team());
      await rig.process().reconcile();
      rig.kube.seed('DirectorySync', { ...rig.directory(), metadata: { ...rig.directory().metadata, deletionTimestamp: new Date(T0) } });
      rig.kube.fail((c) => (c.verb === 'delete' ? new FakeApiError(503, 'etcdserver: request timed out') : undefined));
      expect(await rig.process().reconcile()).to.be.instanceOf(TransientError);
      expect(rig.directory().metadata.finalizers).to.include(FINALIZER);
    });
  });

  describe('a person missing from one listing', () => {
    const withoutAnn = () => snapshot([user('u2', 'ben@x.io'), user('u3', 'cat@x.io')], [group('g1', 'Eng', ['u2']), group('g2', 'Ops', ['u3'])]);

    it('is marked with access unchanged, the confirming sync comes within a minute, and a second miss deletes with every signal', async () => {
      const rig = new Rig(team(), { interval: '1h' });
      const p = rig.process();
      expect(await p.reconcile()).to.deep.equal({ requeueAfterMs: 3_600_000 });
      const before = rig.user('ann@x.io');

      rig.snap = withoutAnn();
      rig.now += 3_600_000;
      expect(await p.reconcile()).to.deep.equal({ requeueAfterMs: 60_000 });
      const marked = rig.user('ann@x.io');
      expect(marked.spec).to.deep.equal(before.spec);
      expect(marked.status!.missingSince).to.equal(new Date(rig.now).toISOString());
      expect(marked.status!.revocations).to.equal(undefined);
      expect(p.metric).to.deep.equal([]);
      expect(rig.directory().status!.counts).to.include({ activeUsers: 3, missingUsers: 1 });
      expect(rig.condition('Ready')!.message).to.contain('1 user(s) and 0 group(s) missing from this listing');
      expect(rig.events.map((e) => e.reason)).to.include('MissingFromListing');

      rig.now += 60_000;
      expect(await p.reconcile()).to.deep.equal({ requeueAfterMs: 3_600_000 });
      const gone = rig.user('ann@x.io');
      expect(gone.spec).to.include({ state: 'Deleted' });
      expect(gone.spec.groups).to.deep.equal([]);
      expect(gone.status!.revocations!.map((r) => [r.reason, r.pending])).to.deep.equal([['Deleted', []]]);
      expect(p.metric).to.deep.equal(['corp/Deleted']);
      expect(rig.events.filter((e) => e.reason === 'UserDeleted').map((e) => e.object)).to.deep.equal([gone.metadata.name]);
      expect(rig.directory().status!.counts).to.not.have.property('missingUsers');
      // The confirming read is a complete one, so an incremental driver cannot carry the gap forward.
      expect(rig.completeReads).to.deep.equal([false, false, true]);
    });

    it('never waits longer than the interval for the confirming sync', async () => {
      const rig = new Rig(team(), { interval: '1m' });
      rig.confirmAfterMs = 5 * 60_000;
      const p = rig.process();
      await p.reconcile();
      rig.snap = withoutAnn();
      expect(await p.reconcile()).to.deep.equal({ requeueAfterMs: 60_000 });
    });
  });

  describe('a credentials Secret that appears while a reconcile fails for its absence', () => {
    it('syncs on the next reconcile instead of taking the new Secret as already failed', async () => {
      const rig = new Rig(team());
      await rig.kube.deleteSecret(NS, 'okta');
      const applyStatus = rig.kube.applyStatus.bind(rig.kube);
      let created = false;
      // The Secret is created (as the SCIM server creates its token) after the reconcile found it missing.
      rig.kube.applyStatus = async (...args: Parameters<typeof applyStatus>) => {
        if (!created && args[0] === 'DirectorySync' && (args[3] as { conditions?: { reason?: string }[] }).conditions?.some((c) => c.reason === 'SecretNotFound')) {
          created = true;
          rig.kube.seedSecret(NS, 'okta', { apiToken: '00abcdefghijklmnopqrstuvwxyz' });
        }
        return applyStatus(...args);
      };
      const p = rig.process();
      expect(await p.reconcile()).to.include({ stalled: true });
      expect(created).to.equal(true);
      expect(await p.reconcile()).to.have.property('requeueAfterMs');
      expect(rig.users().length).to.be.greaterThan(0);
    });
  });

  describe('a listing that outlasts the fetch timeout', () => {
    it('is a Timeout of the IdP that changes nothing, not an internal error', async () => {
      const rig = new Rig(team());
      const p = rig.process();
      await p.reconcile();
      const writes = rig.kube.writes({ kind: 'User' }).length;
      rig.fetchTimeoutMs = 50;
      // As drivers do: an aborted request rejects with the signal's own reason.
      rig.fetchHook = (signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
      const result = await rig.process().reconcile(2000);
      expect(result).to.be.instanceOf(TransientError);
      expect(result).to.deep.include({ reason: 'Timeout', origin: 'idp' });
      expect(rig.condition('Ready')).to.deep.include({ status: 'False', reason: 'Timeout' });
      expect(rig.condition('Ready')!.message).to.contain('did not finish the listing within 50 ms');
      expect(rig.condition('IdpReachable')).to.deep.include({ status: 'False', reason: 'Timeout' });
      expect(rig.kube.writes({ kind: 'User' }).length).to.equal(writes);
    });

    it('is RateLimited when the IdP kept answering 429 without a reset time until the time ran out', async () => {
      const { createServer } = await import('node:http');
      let answered = 0;
      const server = createServer((_req, res) => {
        answered++;
        res.writeHead(429).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const rig = new Rig(team());
      const p = rig.process();
      await p.reconcile();
      const writes = rig.kube.writes({ kind: 'User' }).length;
      rig.fetchTimeoutMs = 1000;
      let http: IdpHttpClient | undefined;
      // A driver's HTTP client as a driver builds it: its rate-limit gate closes longer on every 429.
      rig.fetchHook = async (signal) => {
        const ctx = rig.driverContext!;
        http = new IdpHttpClient({ idpName: 'Okta', allowInsecureLoopback: true, now: ctx.now, rateLimits: ctx.rateLimits, baseBackoffMs: 200, random: () => 1 });
        await http.getJson(`http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/users`, { signal });
      };
      try {
        const result = await rig.process().reconcile(5000);
        expect(answered, '429s answered').to.be.greaterThan(1);
        expect(result).to.be.instanceOf(TransientError);
        expect(result).to.deep.include({ reason: 'RateLimited', origin: 'idp' });
        expect(rig.condition('Ready')).to.deep.include({ status: 'False', reason: 'RateLimited' });
        expect(rig.condition('Ready')!.message).to.match(/kept answering with rate-limit or quota errors .* within 1 s; nothing was changed/);
        expect(rig.kube.writes({ kind: 'User' }).length).to.equal(writes);
      } finally {
        server.close();
        await http?.close();
      }
    });
  });

  describe('where a sync spends its time', () => {
    it('reports each step once, in order, each from the end of the one before', async () => {
      const rig = new Rig(team());
      const phases: [string, number][] = [];
      rig.observer = { phase: (_ds, phase, ms) => phases.push([phase, ms]) };
      rig.fetchHook = async () => {
        rig.now += 1500;
      };
      await rig.process().reconcile();
      expect(phases).to.deep.equal([['read', 1500], ['list', 0], ['plan', 0], ['apply', 0], ['signals', 0]]);
    });

    it('reports no step of a sync whose IdP read failed', async () => {
      const rig = new Rig(team());
      const phases: string[] = [];
      rig.observer = { phase: (_ds, phase) => phases.push(phase) };
      rig.fetchError = new TransientError('IdpUnavailable', 'the IdP answered 503');
      await rig.process().reconcile();
      expect(phases).to.deep.equal([]);
    });
  });

  describe('shutdown', () => {
    it('cancels an IdP call in flight and writes nothing', async () => {
      const rig = new Rig(team());
      rig.fetchHook = (signal) =>
        new Promise((_, reject) => {
          signal?.addEventListener('abort', () => reject(new TransientError('Timeout', 'aborted')), { once: true });
        });
      const p = rig.process();
      const started = Date.now();
      const run = p.reconciler.reconcile(NS, DIR);
      await new Promise((r) => setTimeout(r, 20));
      const before = rig.kube.writes().length;
      p.reconciler.stop();
      expect(await run).to.deep.equal({ stalled: true });
      expect(Date.now() - started).to.be.lessThan(1000);
      expect(rig.kube.writes().length).to.equal(before);
    });
  });
});

function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 10));
}
