// Mocha root hooks for end-to-end runs (loaded by test/e2e/.mocharc.json): one control plane per
// run, namespaces from newNamespace() deleted after each test file, everything stopped at the end.
import type { Context, Suite } from 'mocha';
import { clusterIfAny, setUpCluster, tearDownCluster } from './cluster.js';
import { adminKubeConfig, closeCountingClients, resetCredentials } from './index.js';
import { deletePendingNamespaces } from './namespaces.js';

export const mochaHooks = {
  async beforeAll(this: Context) {
    this.timeout(15 * 60_000); // a first run may have to build the control plane
    await setUpCluster();
    const root = this.test?.parent as Suite | undefined;
    for (const fileSuite of root?.suites ?? []) {
      fileSuite.afterAll('delete the namespaces this file created', async () => {
        await deletePendingNamespaces(adminKubeConfig());
      });
    }
  },

  async afterAll(this: Context) {
    this.timeout(60_000);
    const running = clusterIfAny();
    if (!running) return;
    try {
      await closeCountingClients();
      if (!running.controlPlane) await deletePendingNamespaces(adminKubeConfig());
    } finally {
      resetCredentials();
      await tearDownCluster();
    }
  },
};
