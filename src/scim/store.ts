// Where pushed SCIM resources live: one Secret per DirectorySync (they are personal data), `<name>-scim-store`,
// key `store.json.gz` holding gzipped JSON { version: 1, users: [...], groups: [...] }, owned by the
// DirectorySync so the garbage collector removes it with the directory. Every write is conditional on the
// resourceVersion it read (a conflict reads again and re-applies the change), so every replica can write;
// writes of one directory run one at a time in this process, and changes that arrive meanwhile share the next write.
//
// One Secret holds at most 1 MiB: a few thousand typical users compressed. Larger directories are refused
// with 413 rather than silently truncated (spreading the store over several Secrets is not built yet).
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as k8s from '@kubernetes/client-node';
import { LABELS } from '../api/v1alpha1/common.js';
import { isConflict, type KubeClient } from '../kube/client.js';
import { ScimError } from './errors.js';
import type { StoredResource } from './resources.js';

export const STORE_DATA_KEY = 'store.json.gz';
export const STORE_SECRET_TYPE = 'idpsync.io/scim-store';
export const DEFAULT_STORE_MAX_BYTES = 900 * 1024;

const SUFFIX = '-scim-store';
const MAX_ATTEMPTS = 10;
const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export interface ScimDocument {
  users: StoredResource[];
  groups: StoredResource[];
}

export function storeSecretName(directory: string): string {
  if (directory.length + SUFFIX.length <= 253) return `${directory}${SUFFIX}`;
  const hash = createHash('sha256').update(directory).digest('hex').slice(0, 10);
  return `${directory.slice(0, 253 - SUFFIX.length - 11).replace(/[-.]+$/, '')}-${hash}${SUFFIX}`;
}

export function encodeDocument(doc: ScimDocument): Buffer {
  return gzipSync(JSON.stringify({ version: 1, users: doc.users, groups: doc.groups }));
}

export function decodeDocument(bytes: Buffer): ScimDocument {
  let parsed: { version?: unknown; users?: unknown; groups?: unknown };
  try {
    parsed = JSON.parse(gunzipSync(bytes).toString('utf8'));
  } catch {
    throw new Error('the SCIM store is not gzipped JSON');
  }
  if (parsed?.version !== 1 || !Array.isArray(parsed.users) || !Array.isArray(parsed.groups)) throw new Error('the SCIM store does not have the shape of a version 1 store');
  return { users: parsed.users as StoredResource[], groups: parsed.groups as StoredResource[] };
}

export type StoreKube = Pick<KubeClient, 'getSecret' | 'createSecret'> & { core: Pick<k8s.CoreV1Api, 'patchNamespacedSecret'> };

export interface ScimStoreOptions {
  kube: StoreKube;
  /** The owner reference to the DirectorySync; undefined when it is gone (nothing is written then). */
  directoryOwner: (namespace: string, name: string) => Promise<k8s.V1OwnerReference | undefined>;
  maxBytes?: number;
}

interface PendingChange {
  change: (doc: ScimDocument) => { doc: ScimDocument; result: unknown };
  resolve: (result: unknown) => void;
  reject: (err: unknown) => void;
}

export class ScimStore {
  /** Changes waiting for the next write, per directory; a directory with an entry has a flush running. */
  private readonly pending = new Map<string, PendingChange[]>();
  /** The last document read or written per directory, with its resourceVersion (writes start from it optimistically). */
  private readonly decoded = new Map<string, { version: string; doc: ScimDocument }>();

  constructor(private readonly opts: ScimStoreOptions) {}

  /** The directory's document; an empty one when the store does not exist yet. Rejects when it exists but cannot be read. */
  async read(namespace: string, name: string): Promise<ScimDocument> {
    return (await this.load(namespace, name)).doc;
  }

  /** The document for a sync: rejects when the store Secret is missing, since a lost store is not a directory where everyone left. */
  async readExisting(namespace: string, name: string): Promise<ScimDocument> {
    const { doc, version } = await this.load(namespace, name);
    if (version === null) throw new Error(`the SCIM store Secret ${namespace}/${storeSecretName(name)} does not exist`);
    return doc;
  }

  /** Creates the empty store when there is none; true when it did. */
  async ensure(namespace: string, name: string): Promise<boolean> {
    const secret = await this.opts.kube.getSecret(namespace, storeSecretName(name));
    if (secret) return false;
    await this.update(namespace, name, (doc) => ({ doc, result: undefined }));
    return true;
  }

  /**
   * Runs `change` on the current document and stores what it returns. Changes of one directory that
   * arrive while a write is in flight are applied together in the next write (one apiserver round trip
   * for many client requests); a change that throws is left out and rejects alone. A resourceVersion
   * conflict reads the Secret again and re-applies the changes to it.
   */
  update<T>(namespace: string, name: string, change: (doc: ScimDocument) => { doc: ScimDocument; result: T }): Promise<T> {
    const key = `${namespace}/${name}`;
    return new Promise<T>((resolve, reject) => {
      const entry: PendingChange = { change, resolve: resolve as (r: unknown) => void, reject };
      const queue = this.pending.get(key);
      if (queue) {
        queue.push(entry);
        return;
      }
      this.pending.set(key, [entry]);
      void this.flush(namespace, name);
    });
  }

  private async flush(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    for (;;) {
      const batch = this.pending.get(key) ?? [];
      if (batch.length === 0) {
        this.pending.delete(key);
        return;
      }
      this.pending.set(key, []);
      await this.commit(namespace, name, batch);
    }
  }

  private async commit(namespace: string, name: string, batch: PendingChange[]): Promise<void> {
    const key = `${namespace}/${name}`;
    let fresh = false;
    for (let attempt = 1; ; attempt++) {
      let outcomes: { entry: PendingChange; ok: boolean; value: unknown }[] = [];
      try {
        const cached = fresh ? undefined : this.decoded.get(key);
        const { doc, version } = cached ?? (await this.load(namespace, name));
        let current = doc;
        outcomes = batch.map((entry) => {
          try {
            const { doc: next, result } = entry.change(structuredClone(current));
            current = next;
            return { entry, ok: true, value: result };
          } catch (err) {
            return { entry, ok: false, value: err };
          }
        });
        // The cached document may be behind another replica's writes: a change refused against it (an id
        // not found, a userName taken) is tried again on what the apiserver holds before it is answered.
        if (cached && outcomes.some((o) => !o.ok)) {
          fresh = true;
          continue;
        }
        if (outcomes.some((o) => o.ok)) {
          const bytes = encodeDocument(current);
          if (bytes.length > (this.opts.maxBytes ?? DEFAULT_STORE_MAX_BYTES)) {
            throw new ScimError(413, 'the directory has grown beyond what the operator can store (about 900 KiB compressed); the change was not made');
          }
          const written = await this.write(namespace, name, version, bytes);
          if (written) this.decoded.set(key, { version: written, doc: current });
          else this.decoded.delete(key);
        }
        for (const o of outcomes) (o.ok ? o.entry.resolve : o.entry.reject)(o.value);
        return;
      } catch (err) {
        this.decoded.delete(key);
        // Another replica wrote first: it made progress, so retrying converges; a little jitter keeps
        // two replicas from colliding in lockstep.
        if (isConflict(err) && attempt < MAX_ATTEMPTS) {
          fresh = true;
          if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
          continue;
        }
        for (const entry of batch) entry.reject(err);
        return;
      }
    }
  }

  private async load(namespace: string, name: string): Promise<{ doc: ScimDocument; version: string | null }> {
    const secret = await this.opts.kube.getSecret(namespace, storeSecretName(name));
    if (!secret) return { doc: { users: [], groups: [] }, version: null };
    const version = secret.metadata?.resourceVersion ?? '';
    const key = `${namespace}/${name}`;
    const cached = this.decoded.get(key);
    if (cached && cached.version === version) return { doc: cached.doc, version };
    const encoded = secret.data?.[STORE_DATA_KEY];
    const doc = encoded === undefined ? { users: [], groups: [] } : decodeDocument(Buffer.from(encoded, 'base64'));
    this.decoded.set(key, { version, doc });
    return { doc, version };
  }

  /** Creates or updates the store; resolves to the new resourceVersion when the apiserver said it. */
  private async write(namespace: string, name: string, version: string | null, bytes: Buffer): Promise<string | undefined> {
    const owner = await this.opts.directoryOwner(namespace, name);
    if (!owner) throw new ScimError(404, `DirectorySync ${namespace}/${name} does not exist`);
    const labels = { [LABELS.directory]: name, [LABELS.managedBy]: 'idpsync' };
    const data = { [STORE_DATA_KEY]: bytes.toString('base64') };
    if (version === null) {
      // A create that loses a race fails with 409 AlreadyExists, which is retried like a conflict.
      await this.opts.kube.createSecret({ metadata: { name: storeSecretName(name), namespace, labels, ownerReferences: [owner] }, type: STORE_SECRET_TYPE, data });
      return undefined;
    }
    const stored = await this.opts.kube.core.patchNamespacedSecret(
      { namespace, name: storeSecretName(name), body: { metadata: { resourceVersion: version, labels, ownerReferences: [owner] }, data } },
      MERGE_PATCH,
    );
    return stored.metadata?.resourceVersion;
  }

  /** The resourceVersion of the store as this process last read or wrote it. */
  versionOf(namespace: string, name: string): string | undefined {
    return this.decoded.get(`${namespace}/${name}`)?.version;
  }

  forget(namespace: string, name: string): void {
    this.decoded.delete(`${namespace}/${name}`);
  }
}
