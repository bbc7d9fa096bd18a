// Watches the Users the operator writes for changes someone else made to what grants access (spec.groups,
// spec.state), and asks for a sync of their directory, which puts the IdP's answer back within seconds.
//
// No cache: each watch event is looked at and dropped, so a directory of 100,000 people costs no memory
// here. A change counts as someone else's when a field manager other than the operator's owns one of
// those fields (server-side apply bookkeeping); the operator's next apply takes the field back, so the
// repair does not trigger itself. Edits made while the watch is down are caught by the next periodic sync.
import { CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { FIELD_MANAGER, GROUP, LABELS, VERSION, type User } from '../../api/v1alpha1/index.js';
import { backoffDelay } from '../../runtime/workqueue.js';

/** Fields of a User that grant or withhold access. */
const GUARDED = ['f:groups', 'f:state'];

interface ManagedFieldsEntry {
  manager?: string;
  fieldsV1?: { 'f:spec'?: Record<string, unknown> };
}

/** Whether a manager other than the operator owns a field that grants access. */
export function editedByOthers(user: Pick<User, 'metadata'>): boolean {
  const entries = (user.metadata as { managedFields?: ManagedFieldsEntry[] }).managedFields ?? [];
  return entries.some((e) => e.manager !== FIELD_MANAGER && GUARDED.some((f) => e.fieldsV1?.['f:spec']?.[f] !== undefined));
}

export interface HandEditWatchOptions {
  kubeConfig: KubeConfig;
  /** One namespace, or all when absent. */
  namespace?: string;
  /** Called with "namespace/directory" for a User someone else edited. */
  onEdited: (directoryKey: string) => void;
  log: { warn(message: string, meta?: Record<string, unknown>): void; debug?(message: string, meta?: Record<string, unknown>): void };
}

export class HandEditWatch {
  private abort?: AbortController;
  private stopped = false;
  private failures = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: HandEditWatchOptions) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const scope = this.opts.namespace ? `/namespaces/${this.opts.namespace}` : '';
    const labelSelector = `${LABELS.managedBy}=idpsync`;
    try {
      // Watch from now: a list of one item gives the current resourceVersion without sending every User.
      const api = this.opts.kubeConfig.makeApiClient(CustomObjectsApi);
      const page = (await (this.opts.namespace
        ? api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: this.opts.namespace, plural: 'users', labelSelector, limit: 1 })
        : api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'users', labelSelector, limit: 1 }))) as { metadata?: { resourceVersion?: string } };
      this.abort = await new Watch(this.opts.kubeConfig).watch(
        `/apis/${GROUP}/${VERSION}${scope}/users`,
        { labelSelector, resourceVersion: page.metadata?.resourceVersion, allowWatchBookmarks: false },
        (phase, obj: User) => {
          this.failures = 0;
          if (phase === 'MODIFIED' && editedByOthers(obj)) {
            const directory = obj.metadata.labels?.[LABELS.directory];
            if (directory) this.opts.onEdited(`${obj.metadata.namespace}/${directory}`);
          }
        },
        (err) => this.reconnect(err),
      );
    } catch (err) {
      this.reconnect(err);
    }
  }

  private reconnect(err: unknown): void {
    if (this.stopped) return;
    if (err) this.opts.log.warn('watch of User edits ended; reconnecting', { error: String((err as Error)?.message ?? err).split('\n')[0] });
    const delay = err ? backoffDelay(++this.failures, 1000, 60_000) : 0;
    this.timer = setTimeout(() => void this.connect(), delay);
    this.timer.unref?.();
  }
}
