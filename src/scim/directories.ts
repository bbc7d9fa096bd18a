// The operator side of SCIM directories: creates each one's token and empty store when its DirectorySync
// appears, and tells the scim driver which directory a token belongs to (the driver only sees the Secret
// named in credentialsRef, not the DirectorySync it serves).
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { DirectorySync } from '../api/v1alpha1/index.js';
import { directoryOwnerRef } from '../controllers/owners.js';
import type { ScimStore } from './store.js';
import { tokenMatches, type TokenStore } from './tokens.js';

export interface DirectoryRef {
  namespace: string;
  name: string;
}

export interface ScimDirectoriesOptions {
  tokens: TokenStore;
  store: ScimStore;
  /** DirectorySyncs currently known (the controller's informer cache; empty on a replica that does not lead). */
  list: () => DirectorySync[];
  /** One DirectorySync: from the informer cache on the leader, from the apiserver on other replicas. */
  get: (namespace: string, name: string) => Promise<DirectorySync | undefined> | DirectorySync | undefined;
}

export function isScimDirectory(ds: DirectorySync | undefined): ds is DirectorySync {
  return !!ds && ds.spec?.provider?.type === 'scim' && !ds.metadata.deletionTimestamp;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

export class ScimDirectories {
  private readonly byTokenHash = new Map<string, string>();

  constructor(private readonly opts: ScimDirectoriesOptions) {}

  async directory(namespace: string, name: string): Promise<DirectorySync | undefined> {
    const ds = await this.opts.get(namespace, name);
    return isScimDirectory(ds) ? ds : undefined;
  }

  /** Creates the token Secret and the empty store of a SCIM directory when missing; true when anything was created. */
  async ensure(ds: DirectorySync): Promise<boolean> {
    const { namespace, name } = ds.metadata as DirectoryRef;
    const owner: k8s.V1OwnerReference = directoryOwnerRef(ds);
    const createdToken = await this.opts.tokens.ensure(namespace, name, owner);
    const createdStore = await this.opts.store.ensure(namespace, name);
    return createdToken || createdStore;
  }

  /** The directory whose current token this is, or undefined when none (or more than one) has it. */
  async directoryForToken(token: string): Promise<DirectoryRef | undefined> {
    const hash = hashOf(token);
    const cached = this.byTokenHash.get(hash);
    if (cached) {
      const [namespace, name] = cached.split('/');
      if ((await this.directory(namespace, name)) && (await this.opts.tokens.read(namespace, name)).token === token) return { namespace, name };
      this.byTokenHash.delete(hash);
    }
    const found: DirectoryRef[] = [];
    for (const ds of this.opts.list().filter(isScimDirectory)) {
      const { namespace, name } = ds.metadata as DirectoryRef;
      const tokens = await this.opts.tokens.read(namespace, name);
      if (tokens.token && tokenMatches(token, [tokens.token])) found.push({ namespace, name });
    }
    if (found.length !== 1) return undefined;
    this.byTokenHash.set(hash, `${found[0].namespace}/${found[0].name}`);
    return found[0];
  }
}
