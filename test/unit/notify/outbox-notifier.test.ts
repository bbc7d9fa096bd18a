import { expect } from 'chai';
import type { NotificationType } from '../../../src/api/v1alpha1/directorysync.js';
import { directorySource, newCloudEvent, type CloudEvent } from '../../../src/notify/cloudevent.js';
import { Notifier, type NotifierLog, type NotifierOptions, type OutboxStore, type PersistedOutbox, type WebhookTarget } from '../../../src/notify/notifier.js';
import type { SaveResult } from '../../../src/notify/outbox.js';
import { FakeClock, flushPromises } from '../../../src/runtime/clock.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/webhook-receiver.js';

const KEY = 'team-a/corp';
const SECRET = 'outbox-test-signing-secret';

/** An OutboxStore in memory that records every call and can be told to fail. */
class MemoryStore implements OutboxStore {
  readonly kept = new Map<string, PersistedOutbox>();
  readonly saves: Array<{ key: string; outbox: PersistedOutbox }> = [];
  loads = 0;
  failLoads = 0;
  failSaves = 0;
  /** While set, load() waits for it. */
  loadGate?: Promise<void>;
  /** Ids the store pretends it had no room for, once. */
  noRoomFor?: string[];

  async load(key: string): Promise<PersistedOutbox | undefined> {
    this.loads++;
    await this.loadGate;
    if (this.failLoads > 0) {
      this.failLoads--;
      throw new Error('apiserver unavailable');
    }
    const kept = this.kept.get(key);
    return kept && structuredClone(kept);
  }

  async save(key: string, outbox: PersistedOutbox): Promise<SaveResult | void> {
    this.saves.push({ key, outbox: structuredClone(outbox) });
    if (this.failSaves > 0) {
      this.failSaves--;
      throw new Error('apiserver unavailable');
    }
    const dropped = this.noRoomFor ?? [];
    this.noRoomFor = undefined;
    this.kept.set(key, { webhooks: outbox.webhooks.map((w) => ({ name: w.name, events: w.events.filter((e) => !dropped.includes(e.id)) })) });
    return { dropped };
  }

  ids(key = KEY, webhook = 'gateway'): string[] | undefined {
    return this.kept.get(key)?.webhooks.find((w) => w.name === webhook)?.events.map((e) => e.id);
  }
}

function recordingLog() {
  const warnings: Array<{ message: string; meta?: Record<string, unknown> }> = [];
  const log: NotifierLog = { warn: (message, meta) => warnings.push({ message, meta }), info: () => {} };
  return { log, warnings };
}

describe('notify/Notifier with an outbox store', function () {
  this.timeout(3_000);

  let clock: FakeClock;
  let receiver: WebhookReceiver;
  let store: MemoryStore;
  let notifiers: Notifier[];
  let sequence = 0;

  const event = (type: NotificationType = 'io.idpsync.user.suspended'): CloudEvent =>
    newCloudEvent({ source: directorySource('team-a', 'corp'), type, subject: `users/u${++sequence}`, data: { n: sequence }, now: new Date(clock.now()) });
  const gateway = (mods: Partial<WebhookTarget> = {}): WebhookTarget => ({
    name: 'gateway',
    url: `${receiver.url}/hook`,
    secret: SECRET,
    allowInsecureLoopback: true,
    ...mods,
  });
  /** Backoff never ends by itself, so a failed event stays pending until the notifier stops. */
  const parkedSleep = (_ms: number, signal: AbortSignal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  const notifier = (opts: NotifierOptions = {}): Notifier => {
    const n = new Notifier({ clock, store, sleep: parkedSleep, saveIntervalMs: 1_000, ...opts });
    notifiers.push(n);
    return n;
  };
  const ids = (events: CloudEvent[]) => events.map((e) => e.id);
  /** Lets the in-memory store's promises and the notifier's reactions to them run. */
  const settle = async () => {
    for (let i = 0; i < 5; i++) await flushPromises();
  };

  beforeEach(async () => {
    clock = new FakeClock(Date.UTC(2025, 0, 1));
    store = new MemoryStore();
    notifiers = [];
    receiver = await startWebhookReceiver({ secret: SECRET, nowSeconds: () => Math.floor(clock.now() / 1000) });
  });

  afterEach(async () => {
    await Promise.all(notifiers.map((n) => n.stop()));
    await receiver.close();
  });

  it('delivers what was pending at stop through a new notifier, first, in order and once', async () => {
    receiver.setDown(503);
    const first = notifier();
    first.configure(KEY, [gateway()]);
    const before = [event(), event(), event()];
    first.publish(KEY, before.slice(0, 2));
    first.publish(KEY, before.slice(2));
    await receiver.waitFor(() => receiver.attempts === 1);
    await first.stop();
    expect(store.saves, 'one final save, nothing before it').to.have.length(1);
    expect(store.ids()).to.deep.equal(ids(before));

    receiver.setDown(false);
    const second = notifier();
    const newer = event();
    // Published before the directory is configured (and again once configured): held until the
    // kept events are back; the repeated id is not sent twice.
    second.publish(KEY, [newer, before[1]]);
    second.configure(KEY, [gateway()]);
    await second.idle();
    expect(store.loads).to.equal(2);
    expect(ids(receiver.events)).to.deep.equal([...ids(before), newer.id]);
    expect(second.status(KEY)[0]).to.include({ delivered: 4, pending: 0, dropped: 0 });

    const savesBefore = store.saves.length;
    await clock.advanceAsync(1_000);
    expect(store.saves).to.have.length(savesBefore + 1);
    expect(store.ids()).to.deep.equal([]);
  });

  it('never saves while nothing is pending or nothing changed', async () => {
    const n = notifier();
    n.configure(KEY, [gateway()]);
    n.configure('team-b/empty', []);
    await settle();
    await clock.advanceAsync(60_000);
    n.configure(KEY, [gateway()]);
    await clock.advanceAsync(60_000);
    await n.stop();
    expect(store.loads).to.equal(2);
    expect(store.saves).to.have.length(0);
  });

  it('does not save a kept outbox that nothing changed, failed attempts notwithstanding', async () => {
    const kept = [event(), event()];
    store.kept.set(KEY, { webhooks: [{ name: 'gateway', events: kept }] });
    receiver.setDown(503);
    const n = notifier();
    n.configure(KEY, [gateway()]);
    await receiver.waitFor(() => receiver.attempts === 1);
    await clock.advanceAsync(10_000);
    expect(n.status(KEY)[0]).to.include({ pending: 2, failedAttempts: 1 });
    await n.stop();
    expect(store.saves).to.have.length(0);
  });

  it('holds delivery until the store is read', async () => {
    let open!: () => void;
    store.loadGate = new Promise<void>((resolve) => (open = resolve));
    const kept = event();
    store.kept.set(KEY, { webhooks: [{ name: 'gateway', events: [kept] }] });
    const n = notifier();
    n.configure(KEY, [gateway()]);
    const newer = event();
    n.publish(KEY, [newer]);
    let idle = false;
    void n.idle().then(() => (idle = true));
    await settle();
    expect(receiver.attempts).to.equal(0);
    expect(idle, 'a directory being read is not idle').to.equal(false);
    open();
    await n.idle();
    expect(ids(receiver.events)).to.deep.equal([kept.id, newer.id]);
  });

  it('coalesces saves to one per interval, each with the events pending then', async () => {
    receiver.setDown(503);
    const n = notifier();
    n.configure(KEY, [gateway()]);
    await settle();
    const published = [event(), event(), event()];
    for (const e of published) {
      n.publish(KEY, [e]);
      await clock.advanceAsync(100);
    }
    await clock.advanceAsync(700);
    expect(store.saves).to.have.length(1);
    expect(store.ids()).to.deep.equal(ids(published));

    const more = event();
    n.publish(KEY, [more]);
    await clock.advanceAsync(999);
    expect(store.saves).to.have.length(1);
    await clock.advanceAsync(1);
    expect(store.saves).to.have.length(2);
    expect(store.ids()).to.deep.equal([...ids(published), more.id]);

    await clock.advanceAsync(10_000);
    expect(store.saves, 'failed attempts change status, not what is pending').to.have.length(2);
  });

  it('delivers without the store when it cannot be read, then merges what it kept once it can', async () => {
    const { log, warnings } = recordingLog();
    const kept = event();
    store.kept.set(KEY, { webhooks: [{ name: 'gateway', events: [kept] }] });
    store.failLoads = 1;
    const n = notifier({ log });
    n.configure(KEY, [gateway()]);
    const fresh = event();
    n.publish(KEY, [fresh]);
    await n.idle();
    expect(ids(receiver.events)).to.deep.equal([fresh.id]);
    expect(warnings.map((w) => w.message)).to.include(
      'cannot read the webhook notifications kept from before the restart; delivering without them for now',
    );
    expect(store.saves, 'what could not be read is not overwritten').to.have.length(0);

    await clock.advanceAsync(1_000);
    await n.idle();
    expect(store.loads).to.equal(2);
    expect(ids(receiver.events)).to.deep.equal([fresh.id, kept.id]);
    await clock.advanceAsync(1_000);
    expect(store.ids()).to.deep.equal([]);
  });

  it('starts delivery when the store does not answer within loadTimeoutMs', async () => {
    store.loadGate = new Promise<void>(() => {});
    const n = notifier({ loadTimeoutMs: 5_000 });
    n.configure(KEY, [gateway()]);
    const e = event();
    n.publish(KEY, [e]);
    await clock.advanceAsync(4_999);
    expect(receiver.attempts).to.equal(0);
    await clock.advanceAsync(1);
    await n.idle();
    expect(ids(receiver.events)).to.deep.equal([e.id]);
  });

  it('logs a failed save and retries it with backoff', async () => {
    const { log, warnings } = recordingLog();
    receiver.setDown(503);
    store.failSaves = 1;
    const n = notifier({ log, saveIntervalMs: 100 });
    n.configure(KEY, [gateway()]);
    await settle();
    const e = event();
    n.publish(KEY, [e]);
    await clock.advanceAsync(100);
    expect(store.saves).to.have.length(1);
    expect(store.kept.has(KEY)).to.equal(false);
    const warning = warnings.find((w) => w.message === 'cannot save the pending webhook notifications; will retry');
    expect(warning?.meta).to.deep.equal({ directory: KEY, error: 'apiserver unavailable' });

    await clock.advanceAsync(500);
    expect(store.saves, 'a failure waits at least a second').to.have.length(1);
    await clock.advanceAsync(500);
    expect(store.saves).to.have.length(2);
    expect(store.ids()).to.deep.equal([e.id]);
  });

  it('drops kept events of webhooks no longer configured or types no longer wanted, and counts them', async () => {
    const { log, warnings } = recordingLog();
    const suspended = event('io.idpsync.user.suspended');
    const deleted = event('io.idpsync.user.deleted');
    store.kept.set(KEY, {
      webhooks: [
        { name: 'gateway', events: [suspended, deleted] },
        { name: 'removed', events: [suspended] },
      ],
    });
    const n = notifier({ log });
    n.configure(KEY, [gateway({ types: ['io.idpsync.user.deleted'] })]);
    await n.idle();
    expect(ids(receiver.events)).to.deep.equal([deleted.id]);
    expect(n.status(KEY)[0]).to.include({ delivered: 1, dropped: 1 });
    expect(warnings.find((w) => w.meta?.webhook === 'removed')?.meta).to.include({ directory: KEY, dropped: 1 });
    await clock.advanceAsync(1_000);
    expect(store.kept.get(KEY)).to.deep.equal({ webhooks: [{ name: 'gateway', events: [] }] });
  });

  it('drops from the queue, and counts, the events the store had no room for', async () => {
    receiver.setDown(503);
    const n = notifier();
    n.configure(KEY, [gateway()]);
    await settle();
    const published = [event(), event(), event()];
    n.publish(KEY, published);
    await receiver.waitFor(() => receiver.attempts === 1);
    store.noRoomFor = [published[0].id];
    await clock.advanceAsync(1_000);
    expect(store.ids()).to.deep.equal(ids(published.slice(1)));
    expect(n.status(KEY)[0]).to.include({ pending: 2, dropped: 1 });
    await clock.advanceAsync(5_000);
    expect(store.saves, 'the queue now matches what was saved').to.have.length(1);
  });

  it('keeps what was read and held when stopped while reading the store', async () => {
    let open!: () => void;
    store.loadGate = new Promise<void>((resolve) => (open = resolve));
    const kept = event();
    store.kept.set(KEY, { webhooks: [{ name: 'gateway', events: [kept] }] });
    const n = notifier();
    n.configure(KEY, [gateway()]);
    const held = event();
    n.publish(KEY, [held]);
    const stopped = n.stop();
    open();
    await stopped;
    expect(receiver.attempts).to.equal(0);
    expect(store.ids()).to.deep.equal([kept.id, held.id]);
  });

  it('stops saving for a forgotten directory', async () => {
    receiver.setDown(503);
    const n = notifier();
    n.configure(KEY, [gateway()]);
    await settle();
    n.publish(KEY, [event()]);
    n.forget(KEY);
    await clock.advanceAsync(5_000);
    await n.stop();
    expect(store.saves).to.have.length(0);
  });
});
