import type { EventsV1Event } from '@kubernetes/client-node';
import { expect } from 'chai';
import { FakeClock } from '../../../src/runtime/clock.js';
import {
  EventGoneError,
  EventRecorder,
  type EventSink,
  FakeRecorder,
  MAX_NOTE_BYTES,
  type ObjectRef,
  microTime,
  truncateUtf8,
} from '../../../src/runtime/events.js';
import { REDACTED, clearRegisteredSecrets, registerSecret, silentLogger } from '../../../src/runtime/logger.js';

class FakeEventApi implements EventSink {
  readonly events = new Map<string, EventsV1Event>();
  readonly calls: string[] = [];
  failCreates = 0;
  failPatches = 0;

  async create(namespace: string, event: EventsV1Event): Promise<string> {
    await Promise.resolve();
    if (this.failCreates > 0) {
      this.failCreates--;
      throw new Error('apiserver said no');
    }
    const name = event.metadata!.name!;
    if (this.events.has(`${namespace}/${name}`)) throw new Error(`duplicate name ${name}`);
    this.events.set(`${namespace}/${name}`, event);
    this.calls.push(`create ${namespace}/${name}`);
    return name;
  }

  async updateSeries(namespace: string, name: string, count: number, lastObservedTime: Date): Promise<void> {
    await Promise.resolve();
    if (this.failPatches > 0) {
      this.failPatches--;
      throw new Error('patch failed');
    }
    const existing = this.events.get(`${namespace}/${name}`);
    if (!existing) throw new EventGoneError(name);
    existing.series = { count, lastObservedTime };
    this.calls.push(`patch ${namespace}/${name} count=${count}`);
  }

  all(): EventsV1Event[] {
    return [...this.events.values()];
  }
}

const directory: ObjectRef = {
  apiVersion: 'idpsync.io/v1alpha1',
  kind: 'DirectorySync',
  name: 'okta',
  namespace: 'team-a',
  uid: 'uid-1',
};

describe('runtime/events', () => {
  let clock: FakeClock;
  let api: FakeEventApi;
  let recorder: EventRecorder;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2025, 5, 1));
    api = new FakeEventApi();
    recorder = new EventRecorder({ sink: api, identity: 'pod-1_abcd', clock, logger: silentLogger() });
  });

  afterEach(() => clearRegisteredSecrets());

  it('creates an events.k8s.io/v1 Event about the regarding object', async () => {
    await recorder.event(directory, 'Warning', 'InvalidCredentials', 'Sync', 'Okta said: Invalid token provided');
    const [event] = api.all();
    expect(event).to.deep.include({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      reportingController: 'idpsync.io/operator',
      reportingInstance: 'pod-1_abcd',
      type: 'Warning',
      reason: 'InvalidCredentials',
      action: 'Sync',
      note: 'Okta said: Invalid token provided',
    });
    expect(event.metadata!.namespace).to.equal('team-a');
    expect(event.metadata!.name).to.match(/^okta\.[0-9a-f]+$/);
    expect(event.regarding).to.deep.include({ kind: 'DirectorySync', name: 'okta', namespace: 'team-a', uid: 'uid-1' });
    expect(JSON.parse(JSON.stringify({ t: event.eventTime })).t).to.equal('2025-06-01T00:00:00.000000Z');
  });

  it('folds repeats within 10 minutes into series.count instead of new Events', async () => {
    for (let i = 0; i < 4; i++) {
      await recorder.event(directory, 'Warning', 'RateLimited', 'Sync', 'Okta rate limit hit');
      clock.advance(3 * 60_000);
    }
    expect(api.all()).to.have.length(1);
    expect(api.calls.slice(1)).to.deep.equal([
      `patch team-a/${api.all()[0].metadata!.name} count=2`,
      `patch team-a/${api.all()[0].metadata!.name} count=3`,
      `patch team-a/${api.all()[0].metadata!.name} count=4`,
    ]);
    expect(api.all()[0].series!.lastObservedTime.getTime()).to.equal(clock.now() - 3 * 60_000);
  });

  it('creates a new Event when the previous occurrence is older than the window', async () => {
    await recorder.event(directory, 'Warning', 'RateLimited', 'Sync', 'same');
    clock.advance(10 * 60_000 + 1);
    await recorder.event(directory, 'Warning', 'RateLimited', 'Sync', 'same');
    expect(api.all()).to.have.length(2);
    expect(api.all().every((e) => e.series === undefined)).to.equal(true);
  });

  it('keeps different objects, reasons and notes apart', async () => {
    await recorder.event(directory, 'Normal', 'Synced', 'Sync', '3 users');
    await recorder.event(directory, 'Normal', 'Synced', 'Sync', '4 users');
    await recorder.event(directory, 'Normal', 'Pruned', 'Sync', '3 users');
    await recorder.event({ ...directory, name: 'google', uid: 'uid-2' }, 'Normal', 'Synced', 'Sync', '3 users');
    expect(api.all()).to.have.length(4);
  });

  it('serialises concurrent repeats: one create, then patches', async () => {
    await Promise.all([1, 2, 3].map(() => recorder.event(directory, 'Warning', 'X', 'Sync', 'n')));
    expect(api.calls.map((c) => c.split(' ')[0])).to.deep.equal(['create', 'patch', 'patch']);
    expect(api.all()[0].series!.count).to.equal(3);
  });

  it('creates a fresh Event when the one in the series is gone', async () => {
    await recorder.event(directory, 'Warning', 'X', 'Sync', 'n');
    api.events.clear();
    await recorder.event(directory, 'Warning', 'X', 'Sync', 'n');
    expect(api.calls.map((c) => c.split(' ')[0])).to.deep.equal(['create', 'create']);
  });

  it('never throws when the API fails, and tries to create again next time', async () => {
    api.failCreates = 1;
    await recorder.event(directory, 'Warning', 'X', 'Sync', 'n');
    expect(api.all()).to.have.length(0);
    await recorder.event(directory, 'Warning', 'X', 'Sync', 'n');
    expect(api.all()).to.have.length(1);
    api.failPatches = 1;
    await recorder.event(directory, 'Warning', 'X', 'Sync', 'n');
    await recorder.event(directory, 'Warning', 'X', 'Sync', 'n');
    expect(api.all()[0].series!.count).to.equal(4);
  });

  it('redacts the note and keeps it within 1024 bytes', async () => {
    registerSecret('super-secret-api-token');
    const note = `token super-secret-api-token rejected; ${'é'.repeat(2_000)}`;
    await recorder.event(directory, 'Warning', 'InvalidCredentials', 'Sync', note);
    const written = api.all()[0].note!;
    expect(written).not.to.include('super-secret-api-token');
    expect(written).to.include(REDACTED);
    expect(Buffer.byteLength(written)).to.be.at.most(MAX_NOTE_BYTES);
    expect(written.endsWith('…')).to.equal(true);
  });

  it('puts Events about cluster-scoped objects in the default namespace', async () => {
    await recorder.event({ apiVersion: 'v1', kind: 'Node', name: 'n1' }, 'Normal', 'R', 'A', 'x');
    expect(api.all()[0].metadata!.namespace).to.equal('default');
  });

  it('forgets old series so memory stays bounded', async () => {
    const small = new EventRecorder({ sink: api, identity: 'i', clock, logger: silentLogger(), maxTracked: 2 });
    for (const note of ['a', 'b', 'c']) await small.event(directory, 'Normal', 'R', 'A', note);
    await small.event(directory, 'Normal', 'R', 'A', 'a'); // 'a' was evicted: a new Event
    expect(api.all()).to.have.length(4);
    await small.event(directory, 'Normal', 'R', 'A', 'c'); // still tracked: joins its series
    expect(api.all()).to.have.length(4);
  });

  it('truncateUtf8 never splits a character', () => {
    expect(truncateUtf8('short', 10)).to.equal('short');
    const cut = truncateUtf8('ééééé', 6);
    expect(Buffer.byteLength(cut)).to.be.at.most(6);
    expect(cut).to.equal('é…');
  });

  it('microTime has microsecond precision', () => {
    expect(microTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678))).to.equal('2025-01-02T03:04:05.678000Z');
  });

  it('FakeRecorder records redacted events for controller tests', async () => {
    registerSecret('another-secret-value');
    const fake = new FakeRecorder();
    await fake.event(directory, 'Normal', 'Synced', 'Sync', 'with another-secret-value');
    expect(fake.events).to.deep.equal([
      { regarding: directory, type: 'Normal', reason: 'Synced', action: 'Sync', note: `with ${REDACTED}` },
    ]);
  });
});
