import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { NotificationType } from '../../../src/api/v1alpha1/directorysync.js';
import { directorySource, newCloudEvent, type CloudEvent } from '../../../src/notify/cloudevent.js';
import { Notifier, type NotifierOptions, type WebhookTarget } from '../../../src/notify/notifier.js';
import { CLOUDEVENTS_JSON, USER_AGENT } from '../../../src/notify/post.js';
import { registry } from '../../../src/runtime/metrics.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/webhook-receiver.js';
import { selfSignedCertificate } from '../../support/tls.js';

const KEY = 'team-a/corp';
const SECRET = 'whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw==';

let sequence = 0;
function event(type: NotificationType = 'io.idpsync.user.suspended', now = new Date()): CloudEvent {
  const subject = `user-${++sequence}`;
  return newCloudEvent({ source: directorySource('team-a', 'corp'), type, subject, data: { user: subject }, now });
}

function target(receiver: WebhookReceiver, mods: Partial<WebhookTarget> = {}): WebhookTarget {
  return { name: 'gateway', url: `${receiver.url}/hooks/idpsync`, secret: SECRET, allowInsecureLoopback: true, ...mods };
}

async function until(predicate: () => boolean, what: string, timeoutMs = 1_500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A backoff sleep the test releases by hand; records every requested delay. */
function gatedSleep() {
  const delays: number[] = [];
  let release: (() => void) | undefined;
  return {
    delays,
    sleep: (ms: number, signal: AbortSignal) => {
      delays.push(ms);
      return new Promise<void>((resolve) => {
        release = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    },
    release() {
      const r = release;
      release = undefined;
      r?.();
    },
  };
}

async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const { values } = await registry.getSingleMetric(name)!.get();
  return values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
}

describe('notify/Notifier', function () {
  this.timeout(2_000);

  let receiver: WebhookReceiver;
  let notifier: Notifier;
  let warnings: string[];
  /** The time the receiver checks signatures against; tests with an injected clock point it there. */
  let receiverNow: () => number;

  function newNotifier(opts: NotifierOptions = {}): Notifier {
    notifier = new Notifier({
      baseBackoffMs: 1,
      maxBackoffMs: 8,
      log: { warn: (msg, meta) => warnings.push(`${msg} ${JSON.stringify(meta)}`), info: () => {} },
      ...opts,
    });
    return notifier;
  }

  beforeEach(async () => {
    registry.resetMetrics();
    warnings = [];
    receiverNow = Date.now;
    receiver = await startWebhookReceiver({ secret: SECRET, nowSeconds: () => Math.floor(receiverNow() / 1000) });
  });

  afterEach(async () => {
    await notifier?.stop();
    await receiver.close();
  });

  it('POSTs each event once, signed, as structured CloudEvents JSON, in publish order', async () => {
    newNotifier();
    notifier.configure(KEY, [target(receiver)]);
    const events = [event(), event('io.idpsync.user.deleted'), event('io.idpsync.membership.removed'), event('io.idpsync.policy.removed')];
    notifier.publish(KEY, events.slice(0, 2));
    notifier.publish(KEY, events.slice(2));
    await notifier.idle();

    expect(receiver.events).to.deep.equal(events);
    expect(receiver.rejected).to.equal(0);
    expect(receiver.attempts).to.equal(4);
    for (const [i, req] of receiver.requests.entries()) {
      expect(req.method).to.equal('POST');
      expect(req.path).to.equal('/hooks/idpsync');
      expect(req.headers['content-type']).to.equal(CLOUDEVENTS_JSON);
      expect(req.headers['user-agent']).to.equal(USER_AGENT);
      expect(req.headers['webhook-id']).to.equal(events[i].id);
      expect(JSON.parse(req.body)).to.deep.equal(events[i]);
    }
    const [status] = notifier.status(KEY);
    expect(status).to.include({ name: 'gateway', delivered: 4, failedAttempts: 0, pending: 0, dropped: 0 });
    expect(status.lastDeliveryTime).to.be.a('string');
    expect(status).to.not.have.property('lastError');
  });

  it('keeps retrying while the receiver answers 503 and delivers everything in order once it is back', async () => {
    newNotifier();
    receiver.setDown(503);
    notifier.configure(KEY, [target(receiver)]);
    const events = [event(), event(), event()];
    notifier.publish(KEY, events);
    await receiver.waitFor(() => receiver.attempts >= 5);
    // Only the head of the queue is tried while the receiver is down.
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id']))).to.deep.equal(new Set([events[0].id]));
    expect(notifier.status(KEY)[0]).to.include({ delivered: 0, pending: 3 });
    expect(notifier.status(KEY)[0].lastError).to.equal(`HTTP 503 from ${receiver.url}/hooks/idpsync`);

    receiver.setDown(false);
    await notifier.idle();
    expect(receiver.events.map((e) => e.id)).to.deep.equal(events.map((e) => e.id));
    const failed = receiver.requests.filter((r) => r.status === 503).length;
    expect(failed).to.be.at.least(5);
    expect(notifier.status(KEY)[0]).to.include({ delivered: 3, failedAttempts: failed, pending: 0, dropped: 0 });
    expect(await metric('idpsync_webhook_deliveries_total', { webhook: 'gateway', result: 'failure' })).to.equal(failed);
    expect(await metric('idpsync_webhook_deliveries_total', { namespace: 'team-a', directory: 'corp', result: 'success' })).to.equal(3);
    expect(await metric('idpsync_webhook_pending', { webhook: 'gateway' })).to.equal(0);
  });

  it('re-signs every attempt with the current time but keeps the webhook-id', async () => {
    let now = Date.UTC(2025, 0, 1);
    const gate = gatedSleep();
    newNotifier({ now: () => now, sleep: gate.sleep });
    const late = await startWebhookReceiver({ secret: SECRET, nowSeconds: () => Math.floor(now / 1000) });
    try {
      late.setDown(503);
      notifier.configure(KEY, [target(late)]);
      const e = event('io.idpsync.user.deleted', new Date(now));
      notifier.publish(KEY, [e]);
      await until(() => gate.delays.length === 1, 'the first backoff');
      late.setDown(false);
      now += 3_600_000; // an hour later: a signature from the first attempt would be far outside tolerance
      gate.release();
      await notifier.idle();
      expect(late.events.map((x) => x.id)).to.deep.equal([e.id]);
      const [first, second] = late.requests;
      expect(second.headers['webhook-id']).to.equal(first.headers['webhook-id']);
      expect(Number(second.headers['webhook-timestamp']) - Number(first.headers['webhook-timestamp'])).to.equal(3600);
    } finally {
      await late.close();
    }
  });

  it('backs off exponentially with full jitter up to maxBackoffMs', async () => {
    const gate = gatedSleep();
    let jitter = 1;
    newNotifier({ baseBackoffMs: 1_000, maxBackoffMs: 10_000, sleep: gate.sleep, random: () => jitter });
    receiver.setDown(500);
    notifier.configure(KEY, [target(receiver)]);
    notifier.publish(KEY, [event()]);
    for (let n = 1; n <= 6; n++) {
      await until(() => gate.delays.length === n, `backoff ${n}`);
      if (n === 5) jitter = 0.25;
      gate.release();
    }
    expect(gate.delays).to.deep.equal([1_000, 2_000, 4_000, 8_000, 10_000, 2_500]);
  });

  it('waits at least as long as Retry-After asks (seconds or HTTP date), capped at maxBackoffMs', async () => {
    const now = Date.UTC(2025, 5, 1, 12, 0, 0);
    const gate = gatedSleep();
    receiverNow = () => now;
    newNotifier({ now: () => now, baseBackoffMs: 100, maxBackoffMs: 60_000, sleep: gate.sleep, random: () => 1 });
    notifier.configure(KEY, [target(receiver)]);

    receiver.setDown(429, { 'retry-after': '7' });
    notifier.publish(KEY, [event('io.idpsync.user.deleted', new Date(now))]);
    await until(() => gate.delays.length === 1, 'first backoff');
    receiver.setDown(503, { 'retry-after': new Date(now + 30_000).toUTCString() });
    gate.release();
    await until(() => gate.delays.length === 2, 'second backoff');
    receiver.setDown(503, { 'retry-after': '3600' });
    gate.release();
    await until(() => gate.delays.length === 3, 'third backoff');
    receiver.setDown(503, { 'retry-after': '0' });
    gate.release();
    await until(() => gate.delays.length === 4, 'fourth backoff');
    receiver.setDown(false);
    gate.release();
    await notifier.idle();

    // Retry-After is a floor; without it (or below it) the jittered backoff applies: 100·2^(n-1) at random()=1.
    expect(gate.delays).to.deep.equal([7_000, 30_000, 60_000, 800]);
    expect(receiver.events).to.have.length(1);
    expect(notifier.status(KEY)[0]).to.include({ delivered: 1, failedAttempts: 4 });
  });

  it('sends each webhook only the types it asked for (none listed means all)', async () => {
    const other = await startWebhookReceiver({ secret: SECRET });
    try {
      newNotifier();
      notifier.configure(KEY, [
        target(receiver, { name: 'deletions', types: ['io.idpsync.user.deleted', 'io.idpsync.policy.removed'] }),
        target(other, { name: 'everything', types: [] }),
      ]);
      const events = [event('io.idpsync.user.suspended'), event('io.idpsync.user.deleted'), event('io.idpsync.membership.removed'), event('io.idpsync.policy.removed')];
      notifier.publish(KEY, events);
      await notifier.idle();
      expect(receiver.events.map((e) => e.type)).to.deep.equal(['io.idpsync.user.deleted', 'io.idpsync.policy.removed']);
      expect(other.events).to.deep.equal(events);
      expect(notifier.status(KEY).map((s) => [s.name, s.delivered])).to.deep.equal([['deletions', 2], ['everything', 4]]);
    } finally {
      await other.close();
    }
  });

  it('holds events published before configure() and delivers them, in order, once configured', async () => {
    newNotifier();
    const events = [event(), event('io.idpsync.user.deleted')];
    notifier.publish(KEY, events);
    expect(notifier.status(KEY)).to.deep.equal([]);
    await notifier.idle(); // held events are nobody's work yet
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(receiver.attempts).to.equal(0);

    const later = event('io.idpsync.membership.removed');
    notifier.configure(KEY, [target(receiver)]);
    notifier.publish(KEY, [later]);
    await notifier.idle();
    expect(receiver.events.map((e) => e.id)).to.deep.equal([...events, later].map((e) => e.id));
  });

  it('bounds events held before configure() by maxPending, keeping the newest', async () => {
    newNotifier({ maxPending: 2 });
    const events = [event(), event(), event()];
    notifier.publish(KEY, events);
    notifier.configure(KEY, [target(receiver)]);
    await notifier.idle();
    expect(receiver.events.map((e) => e.id)).to.deep.equal(events.slice(1).map((e) => e.id));
    expect(warnings.join('\n')).to.match(/dropped 1 webhook notification/);
  });

  it('drops the oldest waiting events beyond maxPending and delivers the rest in order', async () => {
    const gate = gatedSleep();
    newNotifier({ maxPending: 3, sleep: gate.sleep });
    receiver.setDown(503);
    notifier.configure(KEY, [target(receiver)]);
    const events = [event(), event(), event(), event(), event(), event()];
    notifier.publish(KEY, events.slice(0, 1));
    await until(() => gate.delays.length === 1, 'the first failure');
    notifier.publish(KEY, events.slice(1));
    expect(notifier.status(KEY)[0]).to.include({ pending: 3, dropped: 3 });
    expect(await metric('idpsync_webhook_pending', { webhook: 'gateway' })).to.equal(3);

    receiver.setDown(false);
    gate.release();
    await notifier.idle();
    expect(receiver.events.map((e) => e.id)).to.deep.equal(events.slice(3).map((e) => e.id));
    expect(notifier.status(KEY)[0]).to.include({ delivered: 3, pending: 0, dropped: 3 });
    expect(await metric('idpsync_webhook_deliveries_total', { webhook: 'gateway', result: 'dropped' })).to.equal(3);
    expect(warnings.join('\n')).to.match(/dropped 3 webhook notification\(s\): more than 3 events were waiting/);
  });

  it('drops events older than maxAgeMs, including ones that aged while the receiver was down', async () => {
    let now = Date.UTC(2025, 0, 2);
    const gate = gatedSleep();
    const hour = 3_600_000;
    receiverNow = () => now;
    newNotifier({ now: () => now, sleep: gate.sleep, maxAgeMs: 24 * hour });
    notifier.configure(KEY, [target(receiver)]);
    const stale = event('io.idpsync.user.deleted', new Date(now - 25 * hour));
    const fresh = event('io.idpsync.user.deleted', new Date(now - hour));
    notifier.publish(KEY, [stale, fresh]);
    await notifier.idle();
    expect(receiver.events.map((e) => e.id)).to.deep.equal([fresh.id]);
    expect(notifier.status(KEY)[0]).to.include({ delivered: 1, dropped: 1 });

    receiver.setDown(503);
    const aging = event('io.idpsync.user.suspended', new Date(now));
    notifier.publish(KEY, [aging]);
    await until(() => gate.delays.length === 1, 'a failed attempt');
    now += 25 * hour;
    receiver.setDown(false);
    gate.release();
    await notifier.idle();
    expect(receiver.events.map((e) => e.id)).to.deep.equal([fresh.id]);
    expect(notifier.status(KEY)[0]).to.include({ delivered: 1, dropped: 2, pending: 0 });
    expect(warnings.join('\n')).to.match(/older than 24h/);
  });

  it('retries a 4xx too, and reports it without the query string or the secret', async () => {
    const secretUrl = `${receiver.url}/hooks/idpsync?token=query-credential-123`;
    newNotifier();
    receiver.setDown(401);
    notifier.configure(KEY, [target(receiver, { url: secretUrl })]);
    notifier.publish(KEY, [event()]);
    await receiver.waitFor(() => receiver.attempts >= 3);
    const failing = notifier.status(KEY)[0];
    expect(failing.lastError).to.equal(`HTTP 401 from ${receiver.url}/hooks/idpsync`);
    expect(failing.lastFailureTime).to.be.a('string');

    receiver.setDown(false);
    await notifier.idle();
    expect(receiver.events).to.have.length(1);
    expect(receiver.requests.at(-1)!.path).to.equal('/hooks/idpsync?token=query-credential-123');
    const everything = JSON.stringify(notifier.status(KEY)) + warnings.join('\n') + (await registry.metrics());
    expect(everything).to.not.include('query-credential-123');
    expect(everything).to.not.include(SECRET.slice('whsec_'.length));
  });

  it('reports a network failure without the query string', async () => {
    const closed = await startWebhookReceiver({ secret: SECRET });
    const url = `${closed.url}/in?sig=query-credential-456`;
    await closed.close();
    newNotifier();
    notifier.configure(KEY, [target(receiver, { url })]);
    notifier.publish(KEY, [event()]);
    await until(() => notifier.status(KEY)[0].failedAttempts >= 2, 'failed attempts');
    const { lastError } = notifier.status(KEY)[0];
    expect(lastError).to.equal(`POST ${closed.url}/in failed: ECONNREFUSED`);
  });

  it('gives up on an attempt after timeoutMs and retries it', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const gate = gatedSleep();
    try {
      newNotifier({ timeoutMs: 50, sleep: gate.sleep });
      notifier.configure(KEY, [target(receiver, { url: `http://127.0.0.1:${port}/slow` })]);
      notifier.publish(KEY, [event()]);
      await until(() => gate.delays.length === 1, 'the timeout');
      expect(notifier.status(KEY)[0]).to.include({ failedAttempts: 1, pending: 1, lastError: `http://127.0.0.1:${port}/slow did not answer within 0.05s` });
    } finally {
      await notifier.stop();
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('is refused by a receiver holding another secret, and says so', async () => {
    newNotifier();
    notifier.configure(KEY, [target(receiver, { secret: 'not-the-receivers-secret' })]);
    notifier.publish(KEY, [event()]);
    await receiver.waitFor(() => receiver.rejected >= 2);
    expect(receiver.events).to.deep.equal([]);
    expect(notifier.status(KEY)[0].lastError).to.equal(`HTTP 401 from ${receiver.url}/hooks/idpsync`);
  });

  it('trusts the webhook\'s caBundle for HTTPS, and nothing self-signed without it', async function () {
    const pem = selfSignedCertificate();
    if (!pem) return this.skip();
    const secure = await startWebhookReceiver({ secret: SECRET, tls: pem });
    try {
      newNotifier();
      notifier.configure(KEY, [
        { name: 'pinned', url: `${secure.url}/hook`, secret: SECRET, caBundle: pem.cert },
        { name: 'unpinned', url: `${secure.url}/hook`, secret: SECRET },
      ]);
      const e = event();
      notifier.publish(KEY, [e]);
      await until(() => notifier.status(KEY)[0].delivered === 1 && notifier.status(KEY)[1].failedAttempts >= 1, 'deliveries');
      expect(secure.events.map((x) => x.id)).to.deep.equal([e.id]);
      expect(notifier.status(KEY)[1].lastError).to.match(new RegExp(`^POST ${secure.url}/hook failed: .*(SELF_SIGNED|UNABLE_TO_VERIFY)`));
    } finally {
      await notifier.stop();
      await secure.close();
    }
  });

  it('drops queued events whose type a reconfigured webhook no longer takes', async () => {
    const gate = gatedSleep();
    newNotifier({ sleep: gate.sleep });
    receiver.setDown(503);
    notifier.configure(KEY, [target(receiver)]);
    const kept = [event('io.idpsync.user.deleted'), event('io.idpsync.user.deleted')];
    notifier.publish(KEY, [kept[0], event('io.idpsync.user.suspended'), kept[1]]);
    await until(() => gate.delays.length === 1, 'a failed attempt');
    notifier.configure(KEY, [target(receiver, { types: ['io.idpsync.user.deleted'] })]);
    expect(notifier.status(KEY)[0]).to.include({ pending: 2, dropped: 1 });
    receiver.setDown(false);
    gate.release();
    await notifier.idle();
    expect(receiver.events.map((e) => e.id)).to.deep.equal(kept.map((e) => e.id));
  });

  it('does not call a webhook whose URL breaks policy, and says why in status', async () => {
    newNotifier();
    notifier.configure(KEY, [
      target(receiver, { name: 'plain', allowInsecureLoopback: false }),
      { name: 'remote', url: 'http://gateway.example.com/hook?key=query-credential-789', secret: SECRET },
      target(receiver, { name: 'unsigned', secret: '' }),
    ]);
    notifier.publish(KEY, [event()]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(receiver.attempts).to.equal(0);
    const [plain, remote, unsigned] = notifier.status(KEY);
    expect(plain).to.include({ pending: 1, failedAttempts: 0 });
    expect(plain.lastError).to.match(/must use https:\/\/ .*allowInsecureLoopback: true/);
    expect(remote.lastError).to.equal(
      'webhook "remote": url http://gateway.example.com/hook must use https:// (plain http:// is only allowed to a loopback address with allowInsecureLoopback: true)',
    );
    expect(unsigned.lastError).to.match(/signing secret is empty/);

    // Fixing the configuration delivers what waited.
    notifier.configure(KEY, [target(receiver, { name: 'plain' })]);
    await notifier.idle();
    expect(receiver.events).to.have.length(1);
  });

  it('keeps queue and counters when configure() repeats a webhook, and applies a rotated secret to what waits', async () => {
    const gate = gatedSleep();
    newNotifier({ sleep: gate.sleep });
    receiver.setDown(503);
    notifier.configure(KEY, [target(receiver)]);
    const events = [event(), event()];
    notifier.publish(KEY, events);
    await until(() => gate.delays.length === 1, 'a failed attempt');

    notifier.configure(KEY, [{ ...target(receiver) }]);
    expect(notifier.status(KEY)[0]).to.include({ failedAttempts: 1, pending: 2 });
    expect(gate.delays).to.have.length(1); // the backoff in progress was left alone

    const rotated = 'a-brand-new-signing-secret';
    const next = await startWebhookReceiver({ secret: rotated });
    try {
      notifier.configure(KEY, [target(next, { secret: rotated })]);
      await notifier.idle();
      expect(next.events.map((e) => e.id)).to.deep.equal(events.map((e) => e.id));
      expect(notifier.status(KEY)[0]).to.include({ delivered: 2, failedAttempts: 1, pending: 0 });
    } finally {
      await next.close();
    }
  });

  it('stops a webhook removed by configure() and discards its pending events', async () => {
    newNotifier();
    receiver.setDown(503);
    notifier.configure(KEY, [target(receiver)]);
    notifier.publish(KEY, [event(), event()]);
    await receiver.waitFor(() => receiver.attempts >= 1);
    notifier.configure(KEY, []);
    expect(notifier.status(KEY)).to.deep.equal([]);
    await notifier.idle();
    // An attempt aborted by the removal may still reach the receiver a moment later; count from after that.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const attempts = receiver.attempts;
    receiver.setDown(false);
    notifier.publish(KEY, [event()]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(receiver.attempts).to.equal(attempts);
    expect(receiver.events).to.deep.equal([]);
    expect(warnings.join('\n')).to.match(/discarded 2 pending notification/);
    expect(await metric('idpsync_webhook_pending', { webhook: 'gateway' })).to.equal(undefined);
  });

  it('forget() and stop() end delivery', async () => {
    newNotifier();
    receiver.setDown(503);
    notifier.configure(KEY, [target(receiver)]);
    notifier.configure('team-b/other', [target(receiver, { name: 'other' })]);
    notifier.publish(KEY, [event()]);
    notifier.publish('team-b/other', [event()]);
    await receiver.waitFor(() => receiver.attempts >= 2);
    notifier.forget(KEY);
    expect(notifier.status(KEY)).to.deep.equal([]);
    expect(notifier.status('team-b/other')).to.have.length(1);
    await notifier.stop();
    const attempts = receiver.attempts;
    receiver.setDown(false);
    notifier.publish('team-b/other', [event()]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(receiver.attempts).to.equal(attempts);
  });
});
