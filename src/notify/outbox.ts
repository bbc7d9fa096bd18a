// Where the notifier keeps the events its webhooks have not received yet, so they survive a restart or
// a change of leader. The Kubernetes API is the operator's only store: one Secret per DirectorySync
// (the events carry people's logins), owned by it so the garbage collector removes the two together.
//
// The Secret `<directory>-webhook-outbox` holds one key, `pending.json.gz`: gzipped JSON
//   { "version": 1, "events": [<CloudEvent>...], "webhooks": [{ "name": "vpn", "ids": ["<event id>"...] }] }
// Each event is stored once however many webhooks wait for it. Gzip because events of one directory
// are alike: the same Secret then holds several times as many of them within the 1 MiB limit.
// When nothing is pending any more the Secret stays, with empty lists: updating it later is one write
// where deleting and re-creating it would be two.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as k8s from '@kubernetes/client-node';
import { LABELS } from '../api/v1alpha1/common.js';
import { isConflict, isNotFound, statusCode, type KubeClient, type WriteCounter } from '../kube/client.js';
import { isCloudEvent, type CloudEvent } from './cloudevent.js';
import type { NotifierLog } from './target.js';

/** What waits, per webhook name, oldest first. The same event may wait for several webhooks. */
export interface PersistedOutbox {
  webhooks: { name: string; events: CloudEvent[] }[];
}

export interface SaveResult {
  /** Ids of the oldest events left out to respect the store's size limit. */
  dropped?: string[];
}

export interface OutboxStore {
  /** What a previous run left pending for a directory ("namespace/name"); undefined when nothing (or nothing readable) was kept. Rejects only when the store cannot be read. */
  load(directoryKey: string): Promise<PersistedOutbox | undefined>;
  /** Replaces what is kept for the directory. */
  save(directoryKey: string, outbox: PersistedOutbox): Promise<SaveResult | void>;
}

export const OUTBOX_DATA_KEY = 'pending.json.gz';
export const OUTBOX_SECRET_TYPE = 'idpsync.io/webhook-outbox';
/** Decoded bytes; a Secret holds at most 1 MiB, and the rest is left for metadata. */
export const DEFAULT_OUTBOX_MAX_BYTES = 900 * 1024;

const SUFFIX = '-webhook-outbox';
const MAX_NAME = 253;
const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** `<directory>-webhook-outbox`, shortened with a hash of the directory name when over 253 characters. */
export function outboxSecretName(directory: string): string {
  if (directory.length + SUFFIX.length <= MAX_NAME) return `${directory}${SUFFIX}`;
  const hash = createHash('sha256').update(directory).digest('hex').slice(0, 10);
  const prefix = directory.slice(0, MAX_NAME - SUFFIX.length - hash.length - 1).replace(/[-.]+$/, '');
  return `${prefix}-${hash}${SUFFIX}`;
}

interface StoredOutbox {
  version: 1;
  events: CloudEvent[];
  webhooks: { name: string; ids: string[] }[];
}

/**
 * Serialises an outbox within `maxBytes`, leaving out the oldest events (by their `time`) when it
 * would not fit.
 */
export function encodeOutbox(outbox: PersistedOutbox, maxBytes: number): { bytes: Buffer; dropped: string[] } {
  const unique = new Map<string, CloudEvent>();
  for (const webhook of outbox.webhooks) for (const event of webhook.events) if (!unique.has(event.id)) unique.set(event.id, event);
  const oldestFirst = [...unique.values()]
    .map((event, index) => ({ event, index, time: Date.parse(event.time) }))
    .sort((a, b) => (a.time || 0) - (b.time || 0) || a.index - b.index)
    .map((e) => e.event);

  let dropCount = 0;
  for (;;) {
    const dropped = new Set(oldestFirst.slice(0, dropCount).map((e) => e.id));
    const stored: StoredOutbox = {
      version: 1,
      events: [...unique.values()].filter((e) => !dropped.has(e.id)),
      webhooks: outbox.webhooks.map((w) => ({ name: w.name, ids: w.events.map((e) => e.id).filter((id) => !dropped.has(id)) })),
    };
    const bytes = gzipSync(JSON.stringify(stored));
    if (bytes.length <= maxBytes || dropCount >= oldestFirst.length) return { bytes, dropped: [...dropped] };
    // Events compress alike, so the share to leave out is about the share of bytes over the limit.
    const remaining = oldestFirst.length - dropCount;
    dropCount += Math.max(1, Math.ceil(remaining * (1 - maxBytes / bytes.length) * 1.05));
    dropCount = Math.min(dropCount, oldestFirst.length);
  }
}

/** Reads what encodeOutbox wrote; a string says why the bytes are not an outbox. */
export function decodeOutbox(bytes: Buffer): { outbox: PersistedOutbox; invalidEvents: number } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(gunzipSync(bytes).toString('utf8'));
  } catch {
    return 'it is not gzipped JSON';
  }
  const doc = parsed as Partial<StoredOutbox> | null;
  if (typeof doc !== 'object' || doc === null || doc.version !== 1 || !Array.isArray(doc.events) || !Array.isArray(doc.webhooks)) {
    return 'it does not have the shape of a version 1 outbox';
  }
  const events = new Map<string, CloudEvent>();
  let invalidEvents = 0;
  for (const e of doc.events) {
    if (isCloudEvent(e)) events.set(e.id, e);
    else invalidEvents++;
  }
  const webhooks: PersistedOutbox['webhooks'] = [];
  for (const w of doc.webhooks as unknown[]) {
    const { name, ids } = (w ?? {}) as { name?: unknown; ids?: unknown };
    if (typeof name !== 'string' || !Array.isArray(ids)) return 'a webhook entry has no name or no ids';
    webhooks.push({ name, events: ids.flatMap((id) => events.get(id as string) ?? []) });
  }
  return { outbox: { webhooks }, invalidEvents };
}

/** The part of KubeClient the store uses. */
export type OutboxKube = Pick<KubeClient, 'getSecret' | 'createSecret'> & { core: Pick<k8s.CoreV1Api, 'patchNamespacedSecret'> };

export interface SecretOutboxStoreOptions {
  kube: OutboxKube;
  /** The owner reference to the DirectorySync, or undefined when it is gone (nothing is saved then). */
  directoryOwner: (namespace: string, name: string) => Promise<k8s.V1OwnerReference | undefined>;
  /** Counts the updates this store makes itself (creates are counted by KubeClient). */
  countWrite?: WriteCounter;
  log?: NotifierLog;
  maxBytes?: number;
}

/** An OutboxStore on one Secret per DirectorySync; updates are conditional on the resourceVersion last seen. */
export class SecretOutboxStore implements OutboxStore {
  /** resourceVersion last read or written per directory; null when the Secret is known not to exist. */
  private readonly versions = new Map<string, string | null>();
  private readonly maxBytes: number;

  constructor(private readonly opts: SecretOutboxStoreOptions) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_OUTBOX_MAX_BYTES;
  }

  async load(directoryKey: string): Promise<PersistedOutbox | undefined> {
    const { namespace, name } = splitKey(directoryKey);
    const secretName = outboxSecretName(name);
    const secret = await this.opts.kube.getSecret(namespace, secretName);
    this.remember(directoryKey, secret ? secret.metadata?.resourceVersion : null);
    if (!secret) return undefined;
    const encoded = secret.data?.[OUTBOX_DATA_KEY];
    const decoded = encoded === undefined ? `it has no "${OUTBOX_DATA_KEY}"` : decodeOutbox(Buffer.from(encoded, 'base64'));
    if (typeof decoded === 'string') {
      this.opts.log?.warn(`ignoring the webhook outbox in Secret ${secretName}: ${decoded}; pending notifications from before the restart are lost`, {
        directory: directoryKey,
      });
      return undefined;
    }
    if (decoded.invalidEvents > 0) {
      this.opts.log?.warn(`ignoring ${decoded.invalidEvents} malformed notification(s) in Secret ${secretName}`, {
        directory: directoryKey,
        dropped: decoded.invalidEvents,
      });
    }
    return decoded.outbox;
  }

  async save(directoryKey: string, outbox: PersistedOutbox): Promise<SaveResult> {
    const { namespace, name } = splitKey(directoryKey);
    const owner = await this.opts.directoryOwner(namespace, name);
    if (!owner) return {};
    const { bytes, dropped } = encodeOutbox(outbox, this.maxBytes);
    await this.write(directoryKey, namespace, outboxSecretName(name), {
      labels: { [LABELS.directory]: name, [LABELS.managedBy]: 'idpsync' },
      ownerReferences: [owner],
      data: bytes.toString('base64'),
    });
    return dropped.length > 0 ? { dropped } : {};
  }

  /** Creates or updates the Secret; after a conflict (someone else wrote it) reads it again and retries once. */
  private async write(
    directoryKey: string,
    namespace: string,
    secretName: string,
    content: { labels: Record<string, string>; ownerReferences: k8s.V1OwnerReference[]; data: string },
  ): Promise<void> {
    let version = this.versions.get(directoryKey);
    if (version === undefined) version = await this.readVersion(namespace, secretName);
    for (let attempt = 1; ; attempt++) {
      try {
        if (version === null) {
          await this.opts.kube.createSecret({
            metadata: { name: secretName, namespace, labels: content.labels, ownerReferences: content.ownerReferences },
            type: OUTBOX_SECRET_TYPE,
            data: { [OUTBOX_DATA_KEY]: content.data },
          });
          // KubeClient does not return the created object: the next save reads its resourceVersion first.
          this.versions.delete(directoryKey);
        } else {
          this.opts.countWrite?.('Secret', 'patch');
          const stored = await this.opts.kube.core.patchNamespacedSecret(
            {
              namespace,
              name: secretName,
              body: {
                metadata: { resourceVersion: version, labels: content.labels, ownerReferences: content.ownerReferences },
                data: { [OUTBOX_DATA_KEY]: content.data },
              },
            },
            MERGE_PATCH,
          );
          this.remember(directoryKey, stored.metadata?.resourceVersion);
        }
        return;
      } catch (err) {
        this.versions.delete(directoryKey);
        const stale = isConflict(err) || (version !== null && isNotFound(err));
        if (attempt > 1 || !stale) throw new Error(`cannot write Secret ${namespace}/${secretName}: ${describe(err)}`, { cause: err });
        version = await this.readVersion(namespace, secretName);
      }
    }
  }

  /** The current resourceVersion, or null when the Secret does not exist. */
  private async readVersion(namespace: string, secretName: string): Promise<string | null> {
    const current = await this.opts.kube.getSecret(namespace, secretName);
    if (current && !current.metadata?.resourceVersion) throw new Error(`Secret ${namespace}/${secretName} has no resourceVersion`);
    return current ? current.metadata!.resourceVersion! : null;
  }

  private remember(directoryKey: string, version: string | null | undefined): void {
    if (version === undefined) this.versions.delete(directoryKey);
    else this.versions.set(directoryKey, version);
  }
}

function splitKey(directoryKey: string): { namespace: string; name: string } {
  const slash = directoryKey.indexOf('/');
  return { namespace: directoryKey.slice(0, slash), name: directoryKey.slice(slash + 1) };
}

/** The status code, or the first line of the message: never a request or response body. */
function describe(err: unknown): string {
  const code = statusCode(err);
  if (code !== undefined) return `HTTP ${code}`;
  return String((err as Error)?.message ?? err).split('\n')[0].slice(0, 200);
}
