// Against the real apiserver, as the operator's ServiceAccount: KubeClient's writes share a few
// keep-alive TLS connections, where client-node on its own opens one per call (src/kube/connections.ts).
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { expect } from 'chai';
import https from 'node:https';
import { KubeClient } from '../../src/kube/client.js';
import { MAX_SOCKETS } from '../../src/kube/connections.js';
import { newNamespace, operatorKubeConfig } from './harness/index.js';

const WRITES = 120;
const IN_FLIGHT = 8;

/** Counts TLS connections this process opens while `work` runs (every https.Agent creates them here). */
async function connectionsOpenedBy(work: () => Promise<void>): Promise<number> {
  const original = https.Agent.prototype.createConnection;
  let opened = 0;
  https.Agent.prototype.createConnection = function (this: https.Agent, ...args: unknown[]) {
    opened++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await work();
  } finally {
    https.Agent.prototype.createConnection = original;
  }
  return opened;
}

function user(namespace: string, name: string) {
  return {
    metadata: { name, namespace, labels: { 'idpsync.io/directory': 'conn' } },
    spec: { directory: 'conn', idpId: name, login: `${name}@example.com`, displayName: name, state: 'Active', groups: [] },
  };
}

async function inParallel(count: number, write: (i: number) => Promise<unknown>): Promise<void> {
  await Promise.all(Array.from({ length: IN_FLIGHT }, async (_, worker) => {
    for (let i = worker; i < count; i += IN_FLIGHT) await write(i);
  }));
}

describe('connections to the apiserver', function () {
  let ns: string;

  before(async () => {
    ns = await newNamespace('connections');
  });

  it(`sends ${WRITES} server-side applies, ${IN_FLIGHT} at a time, over at most MAX_SOCKETS connections`, async () => {
    const kube = new KubeClient(await operatorKubeConfig());
    const opened = await connectionsOpenedBy(() => inParallel(WRITES, (i) => kube.apply('User', user(ns, `pooled-${i}`))));
    kube.close();
    expect(opened).to.be.at.least(1).and.at.most(Math.min(IN_FLIGHT, MAX_SOCKETS));
    expect(await new KubeClient(await operatorKubeConfig()).listOwned('User', ns, 'conn')).to.have.length(WRITES);
  });

  it('client-node alone opens a connection per call (the reason for the pool)', async () => {
    const api = (await operatorKubeConfig()).makeApiClient(CustomObjectsApi);
    const ssa = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
    const opened = await connectionsOpenedBy(() =>
      inParallel(40, (i) => {
        const body = { apiVersion: 'idpsync.io/v1alpha1', kind: 'User', ...user(ns, `plain-${i}`) };
        return api.patchNamespacedCustomObject({ group: 'idpsync.io', version: 'v1alpha1', namespace: ns, plural: 'users', name: body.metadata.name, body, fieldManager: 'idpsync', force: true }, ssa);
      }),
    );
    expect(opened).to.equal(40);
  });
});
