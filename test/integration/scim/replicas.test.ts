// The SCIM side of one operator process, before and after it leads: serving without the controller
// (DirectorySyncs read from the apiserver, changes announced through the scim-store-changed
// annotation), then as leader (changes queued directly, a deleted token Secret recreated).
import { expect } from 'chai';
import { ANNOTATIONS, type DirectorySync } from '../../../src/api/v1alpha1/index.js';
import type { KubeClient } from '../../../src/kube/client.js';
import type { ResilientInformer } from '../../../src/runtime/informer.js';
import { silentLogger } from '../../../src/runtime/logger.js';
import { startScim, type RunningScim } from '../../../src/scim/operator.js';
import { StoreChangeSignal } from '../../../src/scim/signal.js';
import { storeSecretName } from '../../../src/scim/store.js';
import { tokenSecretName } from '../../../src/scim/tokens.js';
import { client, MemorySecrets, scimDirectory } from './harness.js';

const until = async (what: string, ok: () => boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('SCIM on a replica, before and after it leads', function () {
  this.timeout(20_000);
  const ds = scimDirectory('team', 'corp');
  let secrets: MemorySecrets;
  let patches: { name: string; patch: any }[];
  let scim: RunningScim;

  beforeEach(async () => {
    secrets = new MemorySecrets();
    patches = [];
    await secrets.createSecret({ metadata: { namespace: 'team', name: tokenSecretName('corp') }, stringData: { token: 'the-token' } });
    const kube = Object.assign(secrets, {
      get: async (_kind: string, namespace: string, name: string) => (namespace === 'team' && name === 'corp' ? ds : undefined),
      mergePatch: async (_kind: string, _namespace: string, name: string, patch: unknown) => void patches.push({ name, patch }),
    }) as unknown as KubeClient;
    scim = startScim({ address: '127.0.0.1:0', kube, log: silentLogger(), tokenCheckMs: 50 });
  });
  afterEach(() => scim.stop());

  it('serves writes without leading, and tells the leader through the annotation with the store version', async () => {
    const port = await scim.listening;
    const call = client(`http://127.0.0.1:${port}/scim/v2/team/corp`, 'the-token');
    expect((await call('POST', '/Users', { userName: 'ada@example.com' })).status).to.equal(201);
    expect((await call('GET', '/Users')).body.totalResults).to.equal(1);
    expect((await client(`http://127.0.0.1:${port}/scim/v2/team/nope`, 'the-token')('GET', '/Users')).status).to.equal(401);
    await until('the annotation patch', () => patches.length > 0);
    const store = await secrets.getSecret('team', storeSecretName('corp'));
    expect(patches.at(-1)!.name).to.equal('corp');
    // The create that made the store has no version yet; the next write's patch carries it.
    expect((await call('POST', '/Users', { userName: 'bob@example.com' })).status).to.equal(201);
    const after = await secrets.getSecret('team', storeSecretName('corp'));
    await until('a patch with the store version', () => patches.at(-1)!.patch.metadata.annotations[ANNOTATIONS.scimStoreChanged] === after!.metadata!.resourceVersion);
    expect(store).to.not.equal(undefined);
  });

  it('as leader queues a sync after its own writes, and recreates a deleted token Secret', async () => {
    const enqueued: string[] = [];
    const informer = { get: () => ds, list: () => [ds], on: () => undefined } as unknown as ResilientInformer<DirectorySync>;
    scim.lead({ informer, enqueue: (key) => enqueued.push(key) });
    const port = await scim.listening;
    expect((await client(`http://127.0.0.1:${port}/scim/v2/team/corp`, 'the-token')('POST', '/Users', { userName: 'ada@example.com' })).status).to.equal(201);
    expect(enqueued).to.include('team/corp');
    expect(patches).to.deep.equal([]);

    secrets.secrets.delete(`team/${tokenSecretName('corp')}`);
    await until('the token Secret recreated', () => secrets.secrets.has(`team/${tokenSecretName('corp')}`));
    const token = Buffer.from(secrets.secrets.get(`team/${tokenSecretName('corp')}`)!.data!.token!, 'base64').toString();
    expect(token).to.not.equal('the-token');
  });
});

describe('StoreChangeSignal', () => {
  it('folds values that arrive during a patch into one next patch, retries a failure, and gives up on a deleted DirectorySync', async () => {
    const sent: string[] = [];
    let fail = 1;
    let release: () => void = () => undefined;
    const signal = new StoreChangeSignal({
      retryMs: 10,
      patch: async (_ns, name, patch) => {
        if (name === 'gone') throw Object.assign(new Error('not found'), { code: 404 });
        await new Promise<void>((r) => (release = r));
        if (fail-- > 0) throw new Error('apiserver unavailable');
        sent.push(patch.metadata.annotations[ANNOTATIONS.scimStoreChanged]!);
      },
    });
    const dir = { namespace: 'team', name: 'corp' };
    signal.signal(dir, '1');
    signal.signal(dir, '2');
    signal.signal(dir, '3');
    release(); // '1' fails
    await until('the retry', () => signal.busy() && sent.length === 0);
    await new Promise((r) => setTimeout(r, 30));
    release(); // retried with the newest value
    await until('the retry to land', () => sent.length === 1);
    expect(sent).to.deep.equal(['3']);
    await until('idle', () => !signal.busy());

    signal.signal({ namespace: 'team', name: 'gone' }, '9');
    await until('gave up', () => !signal.busy());
  });
});
