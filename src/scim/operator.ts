// Starts the SCIM side of the operator: the store, tokens, the HTTP server, and the hooks that create a
// new SCIM directory's token and store as soon as its DirectorySync appears.
import type * as k8s from '@kubernetes/client-node';
import type { DirectorySync } from '../api/v1alpha1/index.js';
import type { KubeClient } from '../kube/client.js';
import type { ScimBackend } from '../providers/scim/driver.js';
import type { ResilientInformer } from '../runtime/informer.js';
import type { Logger } from '../runtime/logger.js';
import { directoryOwnerRef } from '../controllers/owners.js';
import { isScimDirectory, ScimDirectories } from './directories.js';
import { ScimServer, type ScimTlsFiles } from './server.js';
import { ScimStore } from './store.js';
import { TokenStore } from './tokens.js';

export interface StartScimOptions {
  /** HOST:PORT; port 0 picks a free one. */
  address: string;
  /** HTTPS with these files; plain HTTP without. */
  tls?: ScimTlsFiles;
  kube: KubeClient;
  log: Logger;
  directoryOwner: (namespace: string, name: string) => Promise<k8s.V1OwnerReference | undefined>;
  informer: () => ResilientInformer<DirectorySync> | undefined;
  enqueue: (key: string) => void;
}

export interface RunningScim {
  server: ScimServer;
  backend: ScimBackend;
  /** Resolves to the bound port. */
  listening: Promise<number>;
  /** Creates token and store for SCIM directories the informer reports. */
  watch(informer: ResilientInformer<DirectorySync>): void;
  stop(): Promise<void>;
}

export function startScim(opts: StartScimOptions): RunningScim {
  // The owner of a store Secret comes from the informer's cache when it can: one apiserver call less per write.
  const directoryOwner = async (namespace: string, name: string) => {
    const cached = opts.informer()?.get(namespace, name);
    if (cached?.metadata.uid && !cached.metadata.deletionTimestamp) return directoryOwnerRef(cached);
    return opts.directoryOwner(namespace, name);
  };
  const store = new ScimStore({ kube: opts.kube, directoryOwner });
  const tokens = new TokenStore(opts.kube);
  const directories = new ScimDirectories({
    tokens,
    store,
    list: () => opts.informer()?.list() ?? [],
    get: (namespace, name) => opts.informer()?.get(namespace, name),
  });
  const server = new ScimServer({
    ...splitAddress(opts.address),
    tls: opts.tls,
    directories,
    tokens,
    store,
    log: opts.log,
    onChange: ({ namespace, name }) => opts.enqueue(`${namespace}/${name}`),
  });
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
          opts.enqueue(key);
        }
      })
      .catch((err) => {
        ensured.delete(ds.metadata.uid!);
        opts.log.warn('cannot create the SCIM token or store', { directory: key, error: String((err as Error)?.message ?? err).split('\n')[0] });
      });
  };

  return {
    server,
    listening,
    backend: { directoryForToken: (token) => directories.directoryForToken(token), read: (namespace, name) => store.readExisting(namespace, name) },
    watch(informer) {
      informer.on('add', ensure);
      informer.on('update', (ds) => ensure(ds));
      informer.on('delete', (ds) => {
        ensured.delete(ds.metadata.uid!);
        store.forget(ds.metadata.namespace!, ds.metadata.name!);
      });
    },
    stop: () => server.close(),
  };
}

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, '') || '0.0.0.0', port: Number(address.slice(at + 1)) };
}
