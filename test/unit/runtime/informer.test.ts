import type {
  Informer,
  KubernetesListObject,
  KubernetesObject,
  ListPromise,
  ObjectCallback,
} from '@kubernetes/client-node';
import { expect } from 'chai';
import { FakeClock, flushPromises } from '../../../src/runtime/clock.js';
import { ResilientInformer } from '../../../src/runtime/informer.js';
import { silentLogger } from '../../../src/runtime/logger.js';
import { registry } from '../../../src/runtime/metrics.js';

type Obj = KubernetesObject & { data?: string };

function obj(name: string, rv: string, namespace = 'ns'): Obj {
  return { apiVersion: 'v1', kind: 'Thing', metadata: { name, namespace, resourceVersion: rv } };
}

/** Stands in for client-node's ListWatch: lists through the given function, then reports what the test says. */
class FakeListWatch implements Informer<Obj> {
  readonly callbacks: Record<string, Array<(arg?: any) => void>> = {
    add: [],
    update: [],
    delete: [],
    connect: [],
    error: [],
  };
  started = false;
  stopped = false;

  constructor(
    readonly path: string,
    private readonly listFn: ListPromise<Obj>,
  ) {}

  on(verb: string, cb: ObjectCallback<Obj> | ((err?: any) => void)): void {
    this.callbacks[verb].push(cb as (arg?: any) => void);
  }
  off(): void {}

  async start(): Promise<void> {
    this.started = true;
    this.fire('connect');
    try {
      const list = await this.listFn();
      for (const item of list.items) this.fire('add', item); // a fresh ListWatch reports every listed item as added
    } catch (err) {
      this.fire('error', err);
    }
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }

  fire(verb: string, arg?: unknown): void {
    for (const cb of this.callbacks[verb]) cb(arg);
  }
}

describe('runtime/informer', () => {
  let clock: FakeClock;
  let server: Obj[];
  let listError: Error | undefined;
  let generations: FakeListWatch[];
  let informer: ResilientInformer<Obj>;
  let events: string[];

  const list = async (): Promise<KubernetesListObject<Obj>> => {
    if (listError) throw listError;
    return { apiVersion: 'v1', kind: 'ThingList', metadata: { resourceVersion: '100' }, items: [...server] };
  };

  function makeInformer(overrides: Partial<ConstructorParameters<typeof ResilientInformer<Obj>>[0]> = {}) {
    const inf = new ResilientInformer<Obj>({
      resource: 'things',
      path: '/apis/example.io/v1/things',
      list,
      createInformer: (path, listFn) => {
        const lw = new FakeListWatch(path, listFn);
        generations.push(lw);
        return lw;
      },
      clock,
      logger: silentLogger(),
      random: () => 0.5,
      ...overrides,
    });
    inf.on('add', (o) => events.push(`add ${o.metadata!.name}@${o.metadata!.resourceVersion}`));
    inf.on('update', (o, old) =>
      events.push(`update ${o.metadata!.name}@${old.metadata!.resourceVersion}->${o.metadata!.resourceVersion}`),
    );
    inf.on('delete', (o) => events.push(`delete ${o.metadata!.name}`));
    return inf;
  }

  const latest = () => generations[generations.length - 1];

  beforeEach(() => {
    clock = new FakeClock(0);
    server = [obj('a', '1'), obj('b', '2')];
    listError = undefined;
    generations = [];
    events = [];
    registry.resetMetrics();
    informer = makeInformer();
  });

  afterEach(async () => informer.stop());

  it('lists into the cache, reports adds and becomes synced', async () => {
    expect(informer.hasSynced()).to.equal(false);
    informer.start();
    expect(await informer.waitForSync()).to.equal(true);
    expect(events).to.deep.equal(['add a@1', 'add b@2']);
    expect(informer.list().map((o) => o.metadata!.name)).to.deep.equal(['a', 'b']);
    expect(informer.get('ns', 'a')?.metadata?.resourceVersion).to.equal('1');
    expect(informer.get('other', 'a')).to.equal(undefined);
    expect(informer.list('other')).to.deep.equal([]);
  });

  it('passes watch events through and suppresses updates that carry the same resourceVersion', async () => {
    informer.start();
    await informer.waitForSync();
    events = [];
    latest().fire('add', obj('c', '3'));
    latest().fire('update', obj('a', '1'));
    latest().fire('update', obj('a', '4'));
    latest().fire('delete', obj('b', '5'));
    latest().fire('delete', obj('never-seen', '6'));
    expect(events).to.deep.equal(['add c@3', 'update a@1->4', 'delete b']);
    expect(informer.get('ns', 'b')).to.equal(undefined);
  });

  it('asks the apiserver to end each watch after a randomised timeout', () => {
    informer.start();
    // random() = 0.5 → 300 s · 1.5
    expect(latest().path).to.equal('/apis/example.io/v1/things?timeoutSeconds=450');
  });

  it('restarts with a fresh list after an error and reconciles what changed meanwhile', async () => {
    informer.start();
    await informer.waitForSync();
    events = [];

    latest().fire('error', Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
    expect(generations[0].stopped).to.equal(true);
    expect(informer.restarts).to.equal(1);

    // While the watch was down: a deleted, b changed, d created.
    server = [obj('b', '7'), obj('d', '8')];
    await clock.advanceAsync(999); // backoff 1 s · (0.8 + 0.4·0.5) = 1 s
    expect(generations).to.have.length(1);
    await clock.advanceAsync(1);
    expect(generations).to.have.length(2);

    expect(events).to.deep.equal(['delete a', 'update b@2->7', 'add d@8']);
    expect(informer.list().map((o) => o.metadata!.name).sort()).to.deep.equal(['b', 'd']);
    expect(informer.hasSynced()).to.equal(true);
    expect(await registry.metrics()).to.include('idpsync_informer_restarts_total{resource="things"} 1');
  });

  it('ignores anything a discarded generation still reports', async () => {
    informer.start();
    await informer.waitForSync();
    const old = latest();
    old.fire('error', new Error('watch failed'));
    await clock.advanceAsync(1_000);
    events = [];
    old.fire('add', obj('ghost', '9'));
    old.fire('delete', obj('a', '9'));
    old.fire('error', new Error('late error'));
    expect(events).to.deep.equal([]);
    expect(informer.restarts).to.equal(1);
    expect(informer.get('ns', 'a')).not.to.equal(undefined);
  });

  it('keeps serving the last cache while lists fail, backing off exponentially with a cap', async () => {
    informer.start();
    await informer.waitForSync();
    listError = new Error('503 Service Unavailable');
    latest().fire('error', new Error('watch closed with error'));

    const startTimes: number[] = [];
    for (let i = 0; i < 8; i++) {
      const before = generations.length;
      while (generations.length === before) await clock.advanceAsync(100);
      startTimes.push(clock.now());
    }
    const gaps = startTimes.slice(1).map((t, i) => t - startTimes[i]);
    // Delays from the 2nd failure on: 2 s, 4 s, 8 s, 16 s, then capped at 30 s.
    expect(gaps).to.deep.equal([2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(informer.list()).to.have.length(2);
    expect(informer.hasSynced()).to.equal(true);

    listError = undefined;
    await clock.advanceAsync(30_000);
    expect(informer.restarts).to.equal(9);
  });

  it('jitters the restart delay within ±20%', async () => {
    for (const [random, expected] of [
      [0, 800],
      [0.999, 1_200],
    ] as const) {
      generations = [];
      const inf = makeInformer({ random: () => random });
      inf.start();
      await inf.waitForSync();
      latest().fire('error', new Error('x'));
      const started = clock.now();
      while (generations.length === 1) await clock.advanceAsync(50);
      expect(clock.now() - started).to.be.closeTo(expected, 50);
      await inf.stop();
    }
  });

  it('resets the backoff after a generation ran long enough', async () => {
    informer.start();
    await informer.waitForSync();
    for (let i = 0; i < 3; i++) {
      latest().fire('error', new Error('quick failure'));
      await clock.advanceAsync(30_000);
    }
    await clock.advanceAsync(120_000);
    const before = generations.length;
    latest().fire('error', new Error('after a long healthy run'));
    await clock.advanceAsync(1_000);
    expect(generations.length).to.equal(before + 1);
  });

  it('restarts a watch that went silent, but not one that keeps reporting', async () => {
    informer = makeInformer({ stallTimeoutMs: 60_000 });
    informer.start();
    await informer.waitForSync();
    for (let i = 0; i < 5; i++) {
      await clock.advanceAsync(50_000);
      latest().fire('connect');
    }
    expect(informer.restarts).to.equal(0);
    await clock.advanceAsync(60_000);
    expect(informer.restarts).to.equal(1);
    expect(generations[0].stopped).to.equal(true);
    await clock.advanceAsync(1_000);
    expect(generations).to.have.length(2);
  });

  it('keeps delivering to other handlers when one throws', async () => {
    informer.on('add', () => {
      throw new Error('handler bug');
    });
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(o.metadata!.name!));
    informer.start();
    await informer.waitForSync();
    expect(seen).to.deep.equal(['a', 'b']);
  });

  it('stop cancels a pending restart and ends waitForSync', async () => {
    listError = new Error('forbidden');
    informer.start();
    const waiting = informer.waitForSync();
    await flushPromises();
    expect(informer.restarts).to.equal(1);
    await informer.stop();
    expect(await waiting).to.equal(false);
    await clock.advanceAsync(60_000);
    expect(generations).to.have.length(1);
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('waitForSync gives up when the signal aborts', async () => {
    listError = new Error('forbidden');
    informer.start();
    const ac = new AbortController();
    const waiting = informer.waitForSync(ac.signal);
    ac.abort();
    expect(await waiting).to.equal(false);
  });

  it('needs a KubeConfig or an informer factory', () => {
    expect(() => new ResilientInformer<Obj>({ resource: 'x', path: '/x', list })).to.throw(/kubeConfig/);
  });
});
