import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';

// Namespaces created since the last top-level suite finished; hooks.ts deletes them when the
// suite (the test file) is done. Mocha runs one file's suites at a time outside parallel mode.
const pending = new Set<string>();

export async function createNamespace(admin: KubeConfig, prefix: string): Promise<string> {
  const stem = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'e2e';
  const name = `${stem}-${randomBytes(3).toString('hex')}`;
  await admin.makeApiClient(CoreV1Api).createNamespace({
    body: { metadata: { name, labels: { 'app.kubernetes.io/created-by': 'idpsync-e2e' } } },
  });
  pending.add(name);
  return name;
}

/** Asks for deletion of every namespace created since the last call; the namespace controller finishes it. */
export async function deletePendingNamespaces(admin: KubeConfig): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const names = [...pending];
  pending.clear();
  await Promise.all(
    names.map(async (name) => {
      try {
        await core.deleteNamespace({ name });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
    }),
  );
}
