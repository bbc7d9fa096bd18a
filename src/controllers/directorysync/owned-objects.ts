// The Users and Groups the operator owns, kept in memory by a list+watch instead of listed again on every
// sync: at 100,000 people a listing moved about half a gigabyte of JSON per sync, most of it managedFields.
// The cache keeps each object without its managedFields; the operator's own writes go into it as the
// apiserver answers them, so the next sync sees them even before their watch events arrive.
//
// OwnedObjects.kube wraps the operator's KubeApi: listOwned of Users and Groups reads the cache (and lists
// directly while the cache has not loaded), and apply/delete of Users and Groups update it.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, LABELS, VERSION, type Group, type KubeObject, type User } from '../../api/v1alpha1/index.js';
import { PLURAL, type IdpKind, type KubeApi } from '../../kube/client.js';
import { CompactCache, type ListPage } from '../../runtime/compact-cache.js';
import type { Logger } from '../../runtime/logger.js';
import { editedByOthers } from './handedits.js';
import { Interner } from '../../util/intern.js';

type Owned = User | Group;
type CachedKind = 'User' | 'Group';

export interface OwnedObjectsOptions {
  kubeConfig: KubeConfig;
  kube: KubeApi;
  /** All namespaces when absent. */
  namespace?: string;
  logger: Logger;
  /** A User someone other than the operator edited where it grants access ("namespace/directory"). */
  onUserEdited?: (directoryKey: string) => void;
  /** How long a sync waits for the first listing before it lists by itself. Default 5 min (a 100,000-person listing under load). */
  loadTimeoutMs?: number;
}

/** An object as the cache keeps it: everything but the server-side apply bookkeeping. */
export function withoutManagedFields<T extends Owned>(obj: T): T {
  if (!(obj.metadata as { managedFields?: unknown }).managedFields) return obj;
  const { managedFields: _bookkeeping, ...metadata } = obj.metadata as typeof obj.metadata & { managedFields?: unknown };
  return { ...obj, metadata };
}

/**
 * The cache's form of an object: without managedFields, and with what repeats across objects (group
 * names in Users and Groups, Groups' own names, logins in Groups, label values, the namespace) shared
 * through one interner, and the owner references shared by every object of a directory held once.
 */
export function compactWith(strings: Interner) {
  const shared = <S>(spec: S, keys: readonly string[]): S => {
    const out = { ...spec } as Record<string, unknown>;
    for (const k of keys) if (Array.isArray(out[k])) out[k] = strings.list(out[k] as string[]);
    return out as S;
  };
  // Every object of a directory has the same owner reference: one copy per distinct list.
  const ownerLists = new Map<string, Owned['metadata']['ownerReferences']>();
  const sharedOwners = (refs: Owned['metadata']['ownerReferences']) => {
    if (!refs) return refs;
    const key = JSON.stringify(refs);
    const kept = ownerLists.get(key);
    if (kept) return kept;
    ownerLists.set(key, refs);
    return refs;
  };
  return <T extends Owned>(obj: T): T => {
    const kept = withoutManagedFields(obj);
    const metadata = { ...kept.metadata };
    if (metadata.namespace) metadata.namespace = strings.of(metadata.namespace);
    // A Group's name is the copy its members' Users list, so planning compares them by pointer.
    if (kept.kind === 'Group' && metadata.name) metadata.name = strings.of(metadata.name);
    if (metadata.ownerReferences) metadata.ownerReferences = sharedOwners(metadata.ownerReferences);
    if (metadata.labels) metadata.labels = Object.fromEntries(Object.entries(metadata.labels).map(([k, v]) => [strings.of(k), strings.of(v)]));
    const spec = shared(kept.spec, kept.kind === 'User' ? ['groups'] : ['members', 'parents', 'children']);
    return { ...kept, metadata, spec };
  };
}

const directoryIndex = (obj: Owned) => {
  const directory = obj.metadata?.labels?.[LABELS.directory];
  return directory ? `${obj.metadata.namespace}/${directory}` : undefined;
};

export class OwnedObjects {
  private readonly caches: Record<CachedKind, CompactCache<Owned>>;
  readonly kube: KubeApi;

  constructor(private readonly opts: OwnedObjectsOptions) {
    const api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    const scope = opts.namespace ? `/namespaces/${opts.namespace}` : '';
    const labelSelector = `${LABELS.managedBy}=idpsync`;
    const strings = new Interner();
    const cacheOf = (kind: CachedKind) =>
      new CompactCache<Owned>({
        resource: PLURAL[kind],
        kubeConfig: opts.kubeConfig,
        path: `/apis/${GROUP}/${VERSION}${scope}/${PLURAL[kind]}`,
        labelSelector,
        listPage: async (token): Promise<ListPage<Owned>> => {
          const request = { group: GROUP, version: VERSION, plural: PLURAL[kind], labelSelector, limit: 500, _continue: token };
          const page = (await (opts.namespace
            ? api.listNamespacedCustomObject({ ...request, namespace: opts.namespace })
            : api.listClusterCustomObject(request))) as { items?: Owned[]; metadata?: { resourceVersion?: string; continue?: string } };
          return { items: page.items ?? [], resourceVersion: page.metadata?.resourceVersion ?? '', continue: page.metadata?.continue };
        },
        reduce: compactWith(strings),
        indexKey: directoryIndex,
        onModified:
          kind === 'User'
            ? (obj) => {
                const key = directoryIndex(obj);
                if (key && editedByOthers(obj)) opts.onUserEdited?.(key);
              }
            : undefined,
        logger: opts.logger,
      });
    this.caches = { User: cacheOf('User'), Group: cacheOf('Group') };
    this.kube = this.wrap(opts.kube);
  }

  start(): void {
    this.caches.User.start();
    this.caches.Group.start();
  }

  stop(): void {
    this.caches.User.stop();
    this.caches.Group.stop();
  }

  hasSynced(): boolean {
    return this.caches.User.hasSynced() && this.caches.Group.hasSynced();
  }

  private wrap(inner: KubeApi): KubeApi {
    const cacheFor = (kind: IdpKind) => (kind === 'User' || kind === 'Group' ? this.caches[kind] : undefined);
    const loadTimeoutMs = this.opts.loadTimeoutMs ?? 5 * 60_000;
    return {
      get: (...args) => inner.get(...args),
      list: (...args) => inner.list(...args),
      applyStatus: (...args) => inner.applyStatus(...args),
      mergePatch: (...args) => inner.mergePatch(...args),
      getSecret: (...args) => inner.getSecret(...args),
      createSecret: (...args) => inner.createSecret(...args),
      deleteSecret: (...args) => inner.deleteSecret(...args),
      listOwned: async <T extends KubeObject<unknown, unknown>>(kind: IdpKind, namespace: string, directory: string): Promise<T[]> => {
        const cache = cacheFor(kind);
        if (!cache || !(await cache.waitForSync(loadTimeoutMs))) return inner.listOwned<T>(kind, namespace, directory);
        return cache.select(`${namespace}/${directory}`) as unknown as T[];
      },
      apply: async <T extends KubeObject<unknown, unknown>>(kind: IdpKind, obj: Parameters<KubeApi['apply']>[1]): Promise<T> => {
        const stored = await inner.apply<T>(kind, obj);
        const cache = cacheFor(kind);
        if (!cache) return stored;
        return cache.stored(stored as unknown as Owned) as unknown as T;
      },
      delete: async (kind, namespace, name, propagationPolicy) => {
        await inner.delete(kind, namespace, name, propagationPolicy);
        cacheFor(kind)?.removed(namespace, name);
      },
    };
  }
}
