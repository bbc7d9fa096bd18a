// An in-memory stand-in for the apiserver behind KubeApi, for reconciler tests below e2e: objects with
// uids and resourceVersions, label selectors, server-side apply with per-manager ownership of top-level
// status fields, merge patches with resourceVersion preconditions, a log of every call, and injected
// failures at any call. It checks no schema: e2e on the real apiserver stays the proof of that.
import type { V1Secret } from '@kubernetes/client-node';
import type { IdpKind, KubeApi } from '../../src/kube/client.js';
import { FIELD_MANAGER, type KubeObject } from '../../src/api/v1alpha1/index.js';

type AnyObject = KubeObject<unknown, unknown> & { status?: Record<string, unknown>; spec?: Record<string, unknown> };

export interface KubeCall {
  verb: 'get' | 'list' | 'apply' | 'applyStatus' | 'mergePatch' | 'delete' | 'getSecret' | 'createSecret' | 'deleteSecret';
  kind: IdpKind | 'Secret';
  namespace?: string;
  name?: string;
  /** The body written, for writes. */
  body?: unknown;
}

/** An error shaped like client-node's ApiException. */
export class FakeApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = { date: 'Mon, 30 Nov 2026 00:00:00 GMT', 'x-secret-looking-header': 'h' },
  ) {
    super(`HTTP-Code: ${code}\nMessage: Unknown API Status Code!\nBody: ${JSON.stringify({ kind: 'Status', message })}\nHeaders: ${JSON.stringify(headers)}`);
    this.body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });
  }
  readonly body: string;
}

export type Fault = (call: KubeCall) => Error | undefined | Promise<Error | undefined>;

const WRITES = new Set<KubeCall['verb']>(['apply', 'applyStatus', 'mergePatch', 'delete', 'createSecret', 'deleteSecret']);
/** Spec fields an admin sets and the operator never owns. */
const FOREIGN_SPEC_FIELDS = ['role'];

export class MemoryKube implements KubeApi {
  readonly calls: KubeCall[] = [];
  private readonly objects = new Map<string, AnyObject>();
  private readonly secrets = new Map<string, V1Secret>();
  /** Per object and field manager: the top-level status fields that manager last applied. */
  private readonly statusOwners = new Map<string, Map<string, Set<string>>>();
  /** Per object: the annotations the operator's field manager last applied. */
  private readonly appliedAnnotations = new Map<string, Set<string>>();
  private version = 1;
  private uids = 0;
  private faults: Fault[] = [];

  /** Adds a failure rule; every call passes through each rule, and the first error returned is thrown. */
  fail(fault: Fault): this {
    this.faults.push(fault);
    return this;
  }

  clearFaults(): void {
    this.faults = [];
  }

  writes(filter: Partial<KubeCall> = {}): KubeCall[] {
    return this.calls.filter((c) => WRITES.has(c.verb) && Object.entries(filter).every(([k, v]) => (c as unknown as Record<string, unknown>)[k] === v));
  }

  /** An object as stored (a copy), or undefined. */
  peek<T extends AnyObject>(kind: IdpKind, namespace: string, name: string): T | undefined {
    const obj = this.objects.get(key(kind, namespace, name));
    return obj ? (clone(obj) as T) : undefined;
  }

  all<T extends AnyObject>(kind: IdpKind, namespace: string): T[] {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${kind}/${namespace}/`)).map(([, o]) => clone(o) as T);
  }

  /** Puts an object in place as an admin would (no call is logged). */
  seed(kind: IdpKind, obj: AnyObject): AnyObject {
    const stored = this.store(kind, { ...clone(obj), kind, metadata: { ...obj.metadata, uid: obj.metadata.uid ?? this.uid() } });
    return clone(stored);
  }

  seedSecret(namespace: string, name: string, values: Record<string, string>): void {
    this.secrets.set(`${namespace}/${name}`, {
      metadata: { name, namespace, resourceVersion: String(this.version++) },
      data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });
  }

  async get<T extends KubeObject<unknown, unknown>>(kind: IdpKind, namespace: string, name: string): Promise<T | undefined> {
    await this.call({ verb: 'get', kind, namespace, name });
    return this.peek(kind, namespace, name) as T | undefined;
  }

  async listOwned<T extends KubeObject<unknown, unknown>>(kind: IdpKind, namespace: string, directory: string): Promise<T[]> {
    return this.list<T>(kind, namespace, `idpsync.io/directory=${directory}`);
  }

  async list<T extends KubeObject<unknown, unknown>>(kind: IdpKind, namespace: string | undefined, labelSelector?: string): Promise<T[]> {
    await this.call({ verb: 'list', kind, namespace });
    const matches = selector(labelSelector);
    return [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(`${kind}/${namespace ?? ''}`) && matches(o.metadata.labels ?? {}))
      .map(([, o]) => clone(o) as unknown as T);
  }

  async apply<T extends KubeObject<unknown, unknown>>(kind: IdpKind, obj: { metadata: { name: string; namespace: string; resourceVersion?: string } & Record<string, unknown>; spec: unknown; status?: unknown }): Promise<T> {
    await this.call({ verb: 'apply', kind, namespace: obj.metadata.namespace, name: obj.metadata.name, body: clone(obj) });
    const k = key(kind, obj.metadata.namespace, obj.metadata.name);
    const existing = this.objects.get(k);
    this.precondition(existing, obj.metadata.resourceVersion);
    const spec = { ...(obj.spec as Record<string, unknown>) };
    for (const field of FOREIGN_SPEC_FIELDS) if (existing?.spec?.[field] !== undefined && !(field in spec)) spec[field] = existing.spec[field];
    const { resourceVersion: _rv, ...metadata } = obj.metadata;
    const next: AnyObject = {
      ...(existing ?? {}),
      apiVersion: 'idpsync.io/v1alpha1',
      kind,
      metadata: { ...(existing?.metadata ?? { uid: this.uid() }), ...metadata, ...this.ownAnnotations(k, existing, metadata.annotations as Record<string, string> | undefined) } as AnyObject['metadata'],
      spec,
    };
    const stored = this.store(kind, next);
    if (obj.status !== undefined) this.ownStatus(k, FIELD_MANAGER, obj.status as Record<string, unknown>);
    return clone(this.objects.get(k) ?? stored) as unknown as T;
  }

  async applyStatus(kind: IdpKind, namespace: string, name: string, status: unknown, fieldManager = FIELD_MANAGER): Promise<void> {
    await this.call({ verb: 'applyStatus', kind, namespace, name, body: clone(status) });
    const k = key(kind, namespace, name);
    if (!this.objects.has(k)) throw new FakeApiError(404, `${kind.toLowerCase()}s "${name}" not found`);
    this.ownStatus(k, fieldManager, status as Record<string, unknown>);
    this.bump(k);
  }

  async mergePatch(kind: IdpKind, namespace: string, name: string, patch: unknown): Promise<void> {
    await this.call({ verb: 'mergePatch', kind, namespace, name, body: clone(patch) });
    const k = key(kind, namespace, name);
    const existing = this.objects.get(k);
    if (!existing) throw new FakeApiError(404, `${kind.toLowerCase()}s "${name}" not found`);
    const p = clone(patch) as { metadata?: { resourceVersion?: string } };
    this.precondition(existing, p.metadata?.resourceVersion);
    if (p.metadata) delete p.metadata.resourceVersion;
    this.objects.set(k, mergePatch(existing, p) as AnyObject);
    this.bump(k);
  }

  async delete(kind: IdpKind, namespace: string, name: string): Promise<void> {
    await this.call({ verb: 'delete', kind, namespace, name });
    this.objects.delete(key(kind, namespace, name));
  }

  async getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    await this.call({ verb: 'getSecret', kind: 'Secret', namespace, name });
    const s = this.secrets.get(`${namespace}/${name}`);
    return s ? clone(s) : undefined;
  }

  async createSecret(secret: V1Secret & { metadata: { namespace: string } }): Promise<void> {
    await this.call({ verb: 'createSecret', kind: 'Secret', namespace: secret.metadata.namespace, name: secret.metadata.name });
    const data = { ...(secret.data ?? {}) };
    for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = Buffer.from(v).toString('base64');
    this.secrets.set(`${secret.metadata.namespace}/${secret.metadata.name}`, { metadata: { ...secret.metadata, resourceVersion: String(this.version++) }, data });
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    await this.call({ verb: 'deleteSecret', kind: 'Secret', namespace, name });
    this.secrets.delete(`${namespace}/${name}`);
  }

  private async call(call: KubeCall): Promise<void> {
    this.calls.push(call);
    for (const fault of this.faults) {
      const error = await fault(call);
      if (error) throw error;
    }
  }

  private precondition(existing: AnyObject | undefined, resourceVersion: string | undefined): void {
    if (resourceVersion === undefined) return;
    if (!existing) throw new FakeApiError(404, 'not found');
    if (existing.metadata.resourceVersion !== resourceVersion) {
      throw new FakeApiError(409, 'Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again');
    }
  }

  /** As server-side apply does: annotations this applier set before and leaves out now are removed, others kept. */
  private ownAnnotations(k: string, existing: AnyObject | undefined, applied: Record<string, string> | undefined): { annotations?: Record<string, string> } {
    const owned = this.appliedAnnotations.get(k) ?? new Set<string>();
    const next = { ...(existing?.metadata.annotations ?? {}) };
    for (const name of owned) if (!applied || !(name in applied)) delete next[name];
    Object.assign(next, applied ?? {});
    this.appliedAnnotations.set(k, new Set(Object.keys(applied ?? {})));
    return Object.keys(next).length ? { annotations: next } : { annotations: undefined };
  }

  private ownStatus(k: string, manager: string, status: Record<string, unknown>): void {
    const obj = this.objects.get(k)!;
    const owners = this.statusOwners.get(k) ?? new Map<string, Set<string>>();
    this.statusOwners.set(k, owners);
    const next = { ...(obj.status ?? {}) };
    for (const field of owners.get(manager) ?? []) if (!(field in status)) delete next[field];
    Object.assign(next, clone(status));
    owners.set(manager, new Set(Object.keys(status)));
    obj.status = next;
  }

  private store(kind: IdpKind, obj: AnyObject): AnyObject {
    const k = key(kind, obj.metadata.namespace!, obj.metadata.name!);
    this.objects.set(k, obj);
    this.bump(k);
    return obj;
  }

  private bump(k: string): void {
    const obj = this.objects.get(k)!;
    obj.metadata.resourceVersion = String(this.version++);
  }

  private uid(): string {
    return `uid-${++this.uids}`;
  }
}

function key(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Equality (k=v) and existence (k) terms, comma-separated. */
function selector(text: string | undefined): (labels: Record<string, string>) => boolean {
  const terms = (text ?? '').split(',').filter(Boolean);
  return (labels) =>
    terms.every((term) => {
      const [k, v] = term.split('=');
      return v === undefined ? k in labels : labels[k] === v;
    });
}

/** RFC 7386. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
