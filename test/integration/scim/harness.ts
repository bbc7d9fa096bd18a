// An in-process SCIM server over an in-memory Secret store that enforces resourceVersion preconditions
// the way the apiserver does, with one or more scim DirectorySyncs.
import type * as k8s from '@kubernetes/client-node';
import type { DirectorySync } from '../../../src/api/v1alpha1/index.js';
import { ScimDirectories, type DirectoryRef } from '../../../src/scim/directories.js';
import { ScimServer, type ScimLimits } from '../../../src/scim/server.js';
import { ScimStore } from '../../../src/scim/store.js';
import { TokenStore, tokenSecretName } from '../../../src/scim/tokens.js';

function httpError(code: number): Error {
  return Object.assign(new Error(`HTTP ${code}`), { code });
}

export class MemorySecrets {
  readonly secrets = new Map<string, k8s.V1Secret>();
  private version = 1;
  writes = 0;
  /** Patches refused because their resourceVersion was stale. */
  conflicts = 0;
  /** Makes the next N patches fail with a conflict, as if another writer got in first. */
  conflictsToInject = 0;
  /** Time each patch takes, like a round trip to the apiserver. */
  latencyMs = 0;

  async getSecret(namespace: string, name: string): Promise<k8s.V1Secret | undefined> {
    const s = this.secrets.get(`${namespace}/${name}`);
    return s ? structuredClone(s) : undefined;
  }

  async createSecret(secret: k8s.V1Secret & { metadata: { namespace: string } }): Promise<void> {
    const key = `${secret.metadata.namespace}/${secret.metadata.name}`;
    if (this.secrets.has(key)) throw httpError(409);
    const data = { ...(secret.data ?? {}) };
    for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = Buffer.from(v).toString('base64');
    this.writes++;
    this.secrets.set(key, { ...secret, stringData: undefined, data, metadata: { ...secret.metadata, resourceVersion: String(this.version++) } });
  }

  readonly core = {
    patchNamespacedSecret: async (req: { namespace: string; name: string; body: k8s.V1Secret }): Promise<k8s.V1Secret> => {
      if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
      const key = `${req.namespace}/${req.name}`;
      const current = this.secrets.get(key);
      if (!current) throw httpError(404);
      if (this.conflictsToInject > 0) {
        this.conflictsToInject--;
        current.metadata!.resourceVersion = String(this.version++);
        throw httpError(409);
      }
      if (req.body.metadata?.resourceVersion && req.body.metadata.resourceVersion !== current.metadata?.resourceVersion) {
        this.conflicts++;
        throw httpError(409);
      }
      this.writes++;
      const next = { ...current, data: { ...current.data, ...req.body.data }, metadata: { ...current.metadata, resourceVersion: String(this.version++) } };
      this.secrets.set(key, next);
      return structuredClone(next);
    },
  };
}

export function scimDirectory(namespace: string, name: string): DirectorySync {
  return {
    apiVersion: 'idpsync.io/v1alpha1',
    kind: 'DirectorySync',
    metadata: { namespace, name, uid: `uid-${namespace}-${name}` },
    spec: { provider: { type: 'scim', scim: {} }, credentialsRef: { name: tokenSecretName(name) } },
  } as unknown as DirectorySync;
}

export interface Harness {
  baseUrl: (namespace: string, name: string) => string;
  token: (namespace: string, name: string) => Promise<string>;
  secrets: MemorySecrets;
  store: ScimStore;
  directories: ScimDirectories;
  changes: DirectoryRef[];
  port: number;
  close(): Promise<void>;
}

export interface HarnessOptions {
  limits?: Partial<ScimLimits>;
  /** Share the Secrets of another harness: a second replica serving the same directories. */
  secrets?: MemorySecrets;
}

export async function startHarness(dirs: DirectorySync[] = [scimDirectory('team', 'corp')], opts: HarnessOptions = {}): Promise<Harness> {
  const secrets = opts.secrets ?? new MemorySecrets();
  const store = new ScimStore({ kube: secrets, directoryOwner: async (_ns, name) => ({ apiVersion: 'idpsync.io/v1alpha1', kind: 'DirectorySync', name, uid: 'u', controller: true }) });
  const tokens = new TokenStore(secrets);
  const directories = new ScimDirectories({
    tokens,
    store,
    list: () => dirs,
    get: (namespace, name) => dirs.find((d) => d.metadata.namespace === namespace && d.metadata.name === name),
  });
  for (const d of dirs) await directories.ensure(d);
  const changes: DirectoryRef[] = [];
  const server = new ScimServer({ host: '127.0.0.1', port: 0, directories, tokens, store, limits: opts.limits, onChange: (d) => changes.push(d) });
  const port = await server.listen();
  return {
    baseUrl: (namespace, name) => `http://127.0.0.1:${port}/scim/v2/${namespace}/${name}`,
    token: async (namespace, name) => (await tokens.read(namespace, name)).token!,
    secrets,
    store,
    directories,
    changes,
    port,
    close: () => server.close(),
  };
}

export interface ScimClient {
  (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
}

export function client(baseUrl: string, token: string, defaults: Record<string, string> = {}): ScimClient {
  return async (method, path, body, headers = {}) => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', ...defaults, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
}
