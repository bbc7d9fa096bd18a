// The harness's own tools, checked against the real control plane: the request counter sees
// exactly what goes over the wire, killWatches really ends watches, and the controller manager
// deletes namespaces and garbage-collects owned custom resources.
import { CoreV1Api, CustomObjectsApi, Watch } from '@kubernetes/client-node';
import { expect } from 'chai';
import { adminKubeConfig, countingKubeConfig, newNamespace, operatorKubeConfig, waitFor, type CountingClient } from './index.js';

const GROUP = 'idpsync.io';
const VERSION = 'v1alpha1';

function user(name: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'User',
    metadata: { name, ...extra },
    spec: { directory: 'corp', idpId: `id-${name}`, login: `${name}@example.com`, state: 'Active', groups: [] },
  };
}

async function isGone(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return false;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return true;
    throw err;
  }
}

describe('e2e harness', () => {
  let namespace: string;
  let counting: CountingClient;

  before(async () => {
    namespace = await newNamespace('harness');
    counting = await countingKubeConfig(await operatorKubeConfig());
  });

  after(async () => {
    await counting.close();
  });

  it('counts the writes a client makes on the wire, and only writes', async () => {
    const objects = counting.kubeConfig.makeApiClient(CustomObjectsApi);
    const target = { group: GROUP, version: VERSION, namespace, plural: 'users' };
    await objects.listNamespacedCustomObject(target);
    expect(counting.writes()).to.have.length(0);
    expect(counting.proxy.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).to.deep.equal([
      `GET /apis/idpsync.io/v1alpha1/namespaces/${namespace}/users 200`,
    ]);

    await objects.createNamespacedCustomObject({ ...target, body: user('grace') });
    await objects.getNamespacedCustomObject({ ...target, name: 'grace' });
    expect(counting.writes().map((r) => `${r.method} ${r.path}`)).to.deep.equal([`POST /apis/idpsync.io/v1alpha1/namespaces/${namespace}/users`]);

    // Writes made by anyone else are not counted.
    await adminKubeConfig().makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ ...target, body: user('linus') });
    expect(counting.writes()).to.have.length(1);

    counting.proxy.reset();
    await objects.deleteNamespacedCustomObject({ ...target, name: 'grace' });
    expect(counting.writes(/\/users\/grace$/).map((r) => `${r.method} ${r.status}`)).to.deep.equal(['DELETE 200']);
  });

  for (const abrupt of [false, true]) {
    it(`ends the client's open watches ${abrupt ? 'with a connection reset' : 'cleanly, as the apiserver does at a watch timeout'}`, async () => {
      const seen: string[] = [];
      let ended: { err: unknown } | undefined;
      await new Watch(counting.kubeConfig).watch(
        `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/users`,
        {},
        (type, obj: { metadata?: { name?: string } }) => seen.push(`${type} ${obj.metadata?.name}`),
        (err) => (ended = { err }),
      );
      await waitFor(() => counting.proxy.openWatches === 1, { what: 'the watch to be open through the proxy', timeoutMs: 10_000 });
      await waitFor(() => seen.includes('ADDED linus'), { what: 'the initial ADDED event', timeoutMs: 10_000 });

      expect(counting.killWatches({ abrupt })).to.equal(1);
      const result = await waitFor(() => ended, { what: 'the watch to end on the client side', timeoutMs: 10_000 });
      if (abrupt) expect(result.err, 'a reset is an error for the client').to.be.instanceOf(Error);
      else expect(result.err ?? null, 'a clean end is not an error').to.equal(null);
      expect(counting.proxy.openWatches).to.equal(0);
    });
  }

  it('deletes a namespace with custom resources in it (namespace controller)', async () => {
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const objects = adminKubeConfig().makeApiClient(CustomObjectsApi);
    const doomed = `harness-doomed-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name: doomed } } });
    await objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: doomed, plural: 'users', body: user('ada') });
    await core.deleteNamespace({ name: doomed });
    await waitFor(() => isGone(() => core.readNamespace({ name: doomed })), { what: `namespace ${doomed} to be gone`, timeoutMs: 60_000 });
  });

  it('garbage-collects a custom resource when its owner is deleted (garbage collector)', async () => {
    const objects = adminKubeConfig().makeApiClient(CustomObjectsApi);
    const target = { group: GROUP, version: VERSION, namespace };
    const owner = (await objects.createNamespacedCustomObject({
      ...target,
      plural: 'directorysyncs',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'DirectorySync',
        metadata: { name: 'owner' },
        spec: { provider: { type: 'jumpcloud', jumpcloud: {} }, credentialsRef: { name: 'jumpcloud' } },
      },
    })) as { metadata: { uid: string } };
    const ownerReferences = [{ apiVersion: `${GROUP}/${VERSION}`, kind: 'DirectorySync', name: 'owner', uid: owner.metadata.uid, controller: true }];
    await objects.createNamespacedCustomObject({ ...target, plural: 'users', body: user('owned', { ownerReferences }) });

    await objects.deleteNamespacedCustomObject({ ...target, plural: 'directorysyncs', name: 'owner' });
    await waitFor(() => isGone(() => objects.getNamespacedCustomObject({ ...target, plural: 'users', name: 'owned' })), {
      what: 'the owned User to be garbage-collected',
      timeoutMs: 90_000,
    });
  });
});
