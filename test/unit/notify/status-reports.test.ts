import { expect } from 'chai';
import type { WebhookStatus } from '../../../src/api/v1alpha1/directorysync.js';
import { directorySource, newCloudEvent } from '../../../src/notify/cloudevent.js';
import { Notifier, type WebhookTarget } from '../../../src/notify/notifier.js';
import { FakeClock } from '../../../src/runtime/clock.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/webhook-receiver.js';

const KEY = 'team-a/corp';
const SECRET = 'status-report-signing-secret';

describe('notify/Notifier status reports', function () {
  this.timeout(2_000);

  let clock: FakeClock;
  let receiver: WebhookReceiver;
  let notifier: Notifier;
  let reports: Array<{ key: string; statuses: WebhookStatus[]; at: number }>;
  let releaseBackoff: (() => void) | undefined;

  const event = () =>
    newCloudEvent({ source: directorySource('team-a', 'corp'), type: 'io.idpsync.user.deleted', data: {}, now: new Date(clock.now()) });
  const gateway = (): WebhookTarget => ({ name: 'gateway', url: `${receiver.url}/hook`, secret: SECRET, allowInsecureLoopback: true });
  const last = () => reports.at(-1)!.statuses[0];

  beforeEach(async () => {
    clock = new FakeClock(Date.UTC(2025, 0, 1));
    reports = [];
    receiver = await startWebhookReceiver({ secret: SECRET, nowSeconds: () => Math.floor(clock.now() / 1000) });
    notifier = new Notifier({
      clock,
      sleep: (_ms, signal) =>
        new Promise<void>((resolve) => {
          releaseBackoff = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
      onStatusChange: (key, statuses) => reports.push({ key, statuses, at: clock.now() }),
    });
  });

  afterEach(async () => {
    await notifier.stop();
    await receiver.close();
  });

  it('reports at most once per second per directory, always ending with the drained state', async () => {
    notifier.configure(KEY, [gateway()]);
    notifier.publish(KEY, [event(), event(), event()]);
    await notifier.idle();
    expect(reports).to.have.length(0); // reports run on the clock, which has not moved

    clock.advance(0);
    expect(reports).to.have.length(1);
    expect(reports[0].key).to.equal(KEY);
    expect(last()).to.include({ name: 'gateway', delivered: 3, pending: 0 });
    const firstAt = reports[0].at;

    notifier.publish(KEY, [event(), event()]);
    await notifier.idle();
    clock.advance(999);
    expect(reports).to.have.length(1);
    clock.advance(1);
    expect(reports).to.have.length(2);
    expect(reports[1].at - firstAt).to.equal(1_000);
    expect(last()).to.include({ delivered: 5, pending: 0 });

    clock.advance(10_000);
    expect(reports).to.have.length(2);
  });

  it('reports a failure, and nothing for a configure() that changes nothing', async () => {
    notifier.configure(KEY, [gateway()]);
    clock.advance(0);
    expect(reports).to.have.length(1);
    expect(last()).to.deep.equal({ name: 'gateway', delivered: 0, failedAttempts: 0, pending: 0, dropped: 0 });

    receiver.setDown(503);
    notifier.publish(KEY, [event()]);
    await receiver.waitFor(() => releaseBackoff !== undefined);
    clock.advance(1_000);
    expect(reports).to.have.length(2);
    expect(last()).to.include({ failedAttempts: 1, pending: 1, lastError: `HTTP 503 from ${receiver.url}/hook` });
    expect(last().lastFailureTime).to.equal(new Date(clock.now() - 1_000).toISOString());

    notifier.configure(KEY, [gateway()]);
    clock.advance(5_000);
    expect(reports).to.have.length(2);

    receiver.setDown(false);
    releaseBackoff!();
    await notifier.idle();
    clock.advance(0);
    expect(reports).to.have.length(3);
    expect(last()).to.include({ delivered: 1, failedAttempts: 1, pending: 0 });
  });

  it('keeps directories apart and stops reporting a forgotten one', async () => {
    notifier.configure(KEY, [gateway()]);
    notifier.configure('team-b/other', [{ ...gateway(), name: 'other' }]);
    notifier.publish('team-b/other', [event()]);
    await notifier.idle();
    notifier.forget(KEY);
    clock.advance(0);
    expect(reports.map((r) => [r.key, r.statuses.map((s) => [s.name, s.delivered])])).to.deep.equal([['team-b/other', [['other', 1]]]]);
  });
});
