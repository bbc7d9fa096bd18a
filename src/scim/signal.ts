// How a SCIM write accepted by a replica that is not the leader reaches the leader's reconciler. The replica
// sets the scim-store-changed annotation of the DirectorySync to the store's new resourceVersion; the
// leader already watches DirectorySyncs and syncs one whose annotation changed. This needs no permission
// the operator lacks (it patches DirectorySyncs for its finalizer), whereas watching the store Secrets
// would need list and watch on every Secret it can read.
import { ANNOTATIONS } from '../api/v1alpha1/index.js';
import { isNotFound } from '../kube/client.js';
import type { Logger } from '../runtime/logger.js';
import type { DirectoryRef } from './directories.js';

export type AnnotationPatch = (namespace: string, name: string, patch: { metadata: { annotations: Record<string, string> } }) => Promise<void>;

export interface StoreChangeSignalOptions {
  patch: AnnotationPatch;
  log?: Pick<Logger, 'warn'>;
  /** First retry delay after a failed patch; doubles up to 30 s. Default 500 ms. */
  retryMs?: number;
}

interface DirectoryState {
  inFlight: boolean;
  /** The latest value not yet written. */
  pending?: string;
  failures: number;
}

/**
 * Writes at most one annotation patch per directory at a time: values that arrive meanwhile collapse into
 * the next patch, so a burst of writes costs a handful of patches and the last one carries the newest
 * version. A failed patch is retried with backoff until it lands or the DirectorySync is gone.
 */
export class StoreChangeSignal {
  private readonly state = new Map<string, DirectoryState>();
  private counter = 0;

  constructor(private readonly opts: StoreChangeSignalOptions) {}

  /** `version` is the store's resourceVersion after the write, when known. */
  signal(dir: DirectoryRef, version: string | undefined): void {
    const key = `${dir.namespace}/${dir.name}`;
    const state = this.state.get(key) ?? { inFlight: false, failures: 0 };
    this.state.set(key, state);
    // Without a version (the write that created the store) any fresh value still changes the annotation.
    state.pending = version ?? `${Date.now()}-${++this.counter}`;
    if (!state.inFlight) void this.send(dir, key, state);
  }

  /** True while a patch is being written or waits for a retry (tests, shutdown). */
  busy(): boolean {
    return [...this.state.values()].some((s) => s.inFlight);
  }

  private async send(dir: DirectoryRef, key: string, state: DirectoryState): Promise<void> {
    state.inFlight = true;
    while (state.pending !== undefined) {
      const value = state.pending;
      state.pending = undefined;
      try {
        await this.opts.patch(dir.namespace, dir.name, { metadata: { annotations: { [ANNOTATIONS.scimStoreChanged]: value } } });
        state.failures = 0;
      } catch (err) {
        if (isNotFound(err)) break;
        state.failures++;
        state.pending ??= value;
        const delay = Math.min(30_000, (this.opts.retryMs ?? 500) * 2 ** (state.failures - 1));
        this.opts.log?.warn('cannot tell the leader about a SCIM change; retrying', { directory: key, retryInMs: delay, error: String((err as Error)?.message ?? err).split('\n')[0] });
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
    state.inFlight = false;
    this.state.delete(key);
  }
}
