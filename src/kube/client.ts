// The operator's only door to the apiserver for idpsync.io objects and Secrets: server-side apply with
// one field manager, status via the status subresource, paged lists, deletes. Counts every write.
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, FIELD_MANAGER, GROUP, LABELS, VERSION, type KubeObject } from '../api/v1alpha1/index.js';
import { KeepAliveAuthentication, makeKeepAliveClient } from './connections.js';

export type IdpKind = 'DirectorySync' | 'User' | 'Group' | 'Policy';

export const PLURAL: Record<IdpKind, string> = { DirectorySync: 'directorysyncs', User: 'users', Group: 'groups', Policy: 'policies' };

export interface WriteCounter {
  (kind: string, verb: 'apply' | 'applyStatus' | 'delete' | 'create' | 'patch'): void;
}

const SSA = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export function isNotFound(err: unknown): boolean {
  return statusCode(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return statusCode(err) === 409;
}

/** The HTTP status of a failed apiserver request; undefined for a connection failure (whose `code` is e.g. "ECONNREFUSED"). */
export function statusCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  const found = [e?.code, e?.statusCode, e?.response?.statusCode].find((v) => typeof v === 'number');
  return found as number | undefined;
}

export class KubeClient {
  readonly custom: k8s.CustomObjectsApi;
  readonly core: k8s.CoreV1Api;
  /** One keep-alive connection pool for every API client made by this KubeClient (see connections.ts). */
  readonly connections: KeepAliveAuthentication;

  constructor(
    readonly kubeConfig: k8s.KubeConfig,
    private readonly countWrite: WriteCounter = () => {},
  ) {
    this.connections = new KeepAliveAuthentication(kubeConfig);
    this.custom = this.apiClient(k8s.CustomObjectsApi);
    this.core = this.apiClient(k8s.CoreV1Api);
  }

  /** Any client-node API (events, leases) sharing this client's connections. */
  apiClient<T>(api: new (config: k8s.Configuration) => T): T {
    return makeKeepAliveClient(this.connections, this.kubeConfig, api);
  }

  /** Closes the pooled connections (a stopped operator, the end of a test). */
  close(): void {
    this.connections.close();
  }

  async get<T extends KubeObject<unknown, unknown>>(kind: IdpKind, namespace: string, name: string): Promise<T | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL[kind], name })) as T;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Lists every object of a kind a directory owns, page by page. */
  async listOwned<T extends KubeObject<unknown, unknown>>(kind: IdpKind, namespace: string, directory: string): Promise<T[]> {
    return this.list<T>(kind, namespace, `${LABELS.directory}=${directory}`);
  }

  async list<T extends KubeObject<unknown, unknown>>(kind: IdpKind, namespace: string | undefined, labelSelector?: string): Promise<T[]> {
    const items: T[] = [];
    let token: string | undefined;
    do {
      const page = namespace
        ? await this.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL[kind], labelSelector, limit: 500, _continue: token })
        : await this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL[kind], labelSelector, limit: 500, _continue: token });
      items.push(...((page as { items: T[] }).items ?? []));
      token = (page as { metadata?: { _continue?: string; continue?: string } }).metadata?.continue || undefined;
    } while (token);
    return items;
  }

  /** Server-side apply of metadata and spec; returns the object as stored. */
  async apply<T extends KubeObject<unknown, unknown>>(kind: IdpKind, obj: { metadata: k8s.V1ObjectMeta & { name: string; namespace: string }; spec: unknown }): Promise<T> {
    this.countWrite(kind, 'apply');
    return (await this.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: obj.metadata.namespace,
        plural: PLURAL[kind],
        name: obj.metadata.name,
        body: { apiVersion: API_VERSION, kind, ...obj },
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      SSA,
    )) as T;
  }

  /** Server-side apply of the status subresource (by default as the operator's one field manager). */
  async applyStatus(kind: IdpKind, namespace: string, name: string, status: unknown, fieldManager = FIELD_MANAGER): Promise<void> {
    this.countWrite(kind, 'applyStatus');
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL[kind],
        name,
        body: { apiVersion: API_VERSION, kind, metadata: { name, namespace }, status },
        fieldManager,
        force: true,
      },
      SSA,
    );
  }

  /** JSON merge patch (finalizers, owner references: lists the operator must edit, not own). */
  async mergePatch(kind: IdpKind, namespace: string, name: string, patch: unknown): Promise<void> {
    this.countWrite(kind, 'patch');
    await this.custom.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL[kind], name, body: patch }, MERGE);
  }

  async delete(kind: IdpKind, namespace: string, name: string, propagationPolicy: 'Background' | 'Foreground' = 'Background'): Promise<void> {
    this.countWrite(kind, 'delete');
    try {
      await this.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL[kind], name, propagationPolicy });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async getSecret(namespace: string, name: string): Promise<k8s.V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ namespace, name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async createSecret(secret: k8s.V1Secret & { metadata: { namespace: string } }): Promise<void> {
    this.countWrite('Secret', 'create');
    await this.core.createNamespacedSecret({ namespace: secret.metadata.namespace, body: secret });
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    this.countWrite('Secret', 'delete');
    try {
      await this.core.deleteNamespacedSecret({ namespace, name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Decodes a Secret's data into UTF-8 strings. */
export function secretData(secret: k8s.V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(secret.stringData ?? {})) out[k] = v;
  return out;
}

/** What controllers need of the apiserver; tests give them an in-memory implementation. */
export type KubeApi = Pick<
  KubeClient,
  'get' | 'list' | 'listOwned' | 'apply' | 'applyStatus' | 'mergePatch' | 'delete' | 'getSecret' | 'createSecret' | 'deleteSecret'
>;
