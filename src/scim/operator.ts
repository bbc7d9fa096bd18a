// Starts the SCIM side of the operator. Every replica serves SCIM: the handlers keep nothing but caches,
// read the store Secret and write it conditionally on its resourceVersion. The replica that leads also
// creates each SCIM directory's token and empty store, recreates a deleted token Secret, and syncs a
// directory straight after a write it accepted; a write accepted elsewhere reaches it through the
// DirectorySync's scim-store-changed annotation (see signal.ts).
import type { DirectorySync } from '../api/v1alpha1/index.js';
import type { KubeClient } from '../kube/client.js';
import type { ScimBackend } from '../providers/scim/driver.js';
import type { ResilientInformer } from '../runtime/informer.js';
import type { Logger } from '../runtime/logger.js';
import { directoryOwnerRef } from '../controllers/owners.js';
import { isScimDirectory, ScimDirectories, type DirectoryRef } from './directories.js';
import { ScimServer, type ScimLimits, type ScimTlsFiles } from './server.js';
import { StoreChangeSignal } from './signal.js';
import { ScimStore } from './store.js';
import { TokenStore } from './tokens.js';

export interface StartScimOptions {
  /** HOST:PORT; port 0 picks a free one. */
  address: string;
  /** HTTPS with these files; plain HTTP without. */
  tls?: ScimTlsFiles;
  limits?: Partial<ScimLimits>;
  kube: KubeClient;
  log: Logger;
  /** How long a DirectorySync read from the apiserver is trusted on a replica that does not lead. Default 2 s. */
  lookupCacheMs?: number;
  /** How often the leader checks that every SCIM directory still has its token Secret. Default 30 s. */
  tokenCheckMs?: number;
}

/** What the leader's DirectorySync controller lends the SCIM side. */
export interface ScimController {
  informer: ResilientInformer<DirectorySync>;
  enqueue(key: string): void;
}

export interface RunningScim {
  server: ScimServer;
  backend: ScimBackend;
  /** Resolves to the bound port. */
  listening: Promise<number>;
  /** Called once this replica leads: from then on it creates tokens and stores and syncs after its own writes. */
  lead(controller: ScimController): void;
  /** Stops the leader's duties only; the server keeps serving (a replica that stops leading exits anyway). */
  stopLeading(): void;
  stop(): Promise<void>;
}

export function startScim(opts: StartScimOptions): RunningScim {
  let controller: ScimController | undefined;
  const fetched = new Map<string, { at: number; ds: DirectorySync | undefined }>();
  const lookup = async (namespace: string, name: string): Promise<DirectorySync | undefined> => {
    if (controller) return controller.informer.get(namespace, name);
    const key = `${namespace}/${name}`;
    const cached = fetched.get(key);
    if (cached && Date.now() - cached.at < (opts.lookupCacheMs ?? 2_000)) return cached.ds;
    const ds = await opts.kube.get<DirectorySync>('DirectorySync', namespace, name);
    fetched.set(key, { at: Date.now(), ds });
    if (fetched.size > 10_000) fetched.clear();
    return ds;
  };
  const directoryOwner = async (namespace: string, name: string) => {
    const ds = await lookup(namespace, name);
    return ds?.metadata.uid && !ds.metadata.deletionTimestamp ? directoryOwnerRef(ds) : undefined;
  };
  const store = new ScimStore({ kube: opts.kube, directoryOwner });
  const tokens = new TokenStore(opts.kube);
  const directories = new ScimDirectories({ tokens, store, list: () => controller?.informer.list() ?? [], get: lookup });
  const signal = new StoreChangeSignal({ patch: (namespace, name, patch) => opts.kube.mergePatch('DirectorySync', namespace, name, patch), log: opts.log });
  const changed = (dir: DirectoryRef) => {
    if (controller) controller.enqueue(`${dir.namespace}/${dir.name}`);
    else signal.signal(dir, store.versionOf(dir.namespace, dir.name));
  };
  const server = new ScimServer({ ...splitAddress(opts.address), tls: opts.tls, limits: opts.limits, directories, tokens, store, log: opts.log, onChange: changed });
  const listening = server.listen();
  listening.catch(() => undefined); // the caller decides what a failure to listen means

  const ensured = new Set<string>();
  const ensure = (ds: DirectorySync) => {
    if (!isScimDirectory(ds) || ensured.has(ds.metadata.uid!)) return;
    ensured.add(ds.metadata.uid!);
    const key = `${ds.metadata.namespace}/${ds.metadata.name}`;
    directories
      .ensure(ds)
      .then((created) => {
        if (created) {
          opts.log.info('created SCIM token and store', { directory: key });
          controller?.enqueue(key);
        }
      })
      .catch((err) => {
        ensured.delete(ds.metadata.uid!);
        opts.log.warn('cannot create the SCIM token or store', { directory: key, error: String((err as Error)?.message ?? err).split('\n')[0] });
      });
  };
  // A deleted token Secret comes back with a new token (the IdP then needs it): one GET per directory per check.
  const checkTokens = async () => {
    for (const ds of controller?.informer.list().filter(isScimDirectory) ?? []) {
      const key = `${ds.metadata.namespace}/${ds.metadata.name}`;
      try {
        if (await tokens.ensure(ds.metadata.namespace!, ds.metadata.name!, directoryOwnerRef(ds))) {
          opts.log.warn('the SCIM token Secret was missing; created a new token (enter it in the IdP)', { directory: key });
          controller?.enqueue(key);
        }
      } catch (err) {
        opts.log.warn('cannot check the SCIM token Secret', { directory: key, error: String((err as Error)?.message ?? err).split('\n')[0] });
      }
    }
  };
  let tokenCheck: NodeJS.Timeout | undefined;

  return {
    server,
    listening,
    backend: { directoryForToken: (token) => directories.directoryForToken(token), read: (namespace, name) => store.readExisting(namespace, name) },
    lead(lent) {
      controller = lent;
      lent.informer.on('add', ensure);
      lent.informer.on('update', (ds) => ensure(ds));
      lent.informer.on('delete', (ds) => {
        ensured.delete(ds.metadata.uid!);
        store.forget(ds.metadata.namespace!, ds.metadata.name!);
      });
      tokenCheck = setInterval(() => void checkTokens(), opts.tokenCheckMs ?? 30_000);
      tokenCheck.unref();
    },
    stopLeading() {
      clearInterval(tokenCheck);
      controller = undefined;
    },
    stop: async () => {
      clearInterval(tokenCheck);
      await server.close();
    },
  };
}

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, '') || '0.0.0.0', port: Number(address.slice(at + 1)) };
}
