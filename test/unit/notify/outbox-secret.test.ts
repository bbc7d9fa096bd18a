import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import { directorySource, newCloudEvent, type CloudEvent } from '../../../src/notify/cloudevent.js';
import {
  OUTBOX_DATA_KEY,
  OUTBOX_SECRET_TYPE,
  SecretOutboxStore,
  encodeOutbox,
  outboxSecretName,
  type OutboxKube,
  type PersistedOutbox,
} from '../../../src/notify/outbox.js';
import type { NotifierLog } from '../../../src/notify/target.js';

const KEY = 'team-a/corp';
const SECRET_NAME = 'corp-webhook-outbox';
const OWNER: V1OwnerReference = { apiVersion: 'idpsync.io/v1alpha1', kind: 'DirectorySync', name: 'corp', uid: 'uid-corp-1', controller: true, blockOwnerDeletion: false };

function apiError(code: number): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}\nBody: {"kind":"Status"}`), { code });
}

/** The Secret calls of KubeClient against a map, with resourceVersions checked like the apiserver does. */
class FakeKube implements OutboxKube {
  readonly secrets = new Map<string, V1Secret>();
  readonly calls: string[] = [];
  private version = 100;

  readonly core = {
    patchNamespacedSecret: async (req: { namespace: string; name: string; body: unknown }, _options?: unknown): Promise<V1Secret> => {
      this.calls.push('patch');
      const current = this.secrets.get(`${req.namespace}/${req.name}`);
      if (!current) throw apiError(404);
      const patch = req.body as V1Secret;
      if (patch.metadata?.resourceVersion !== current.metadata!.resourceVersion) throw apiError(409);
      const next: V1Secret = {
        ...current,
        metadata: { ...current.metadata, ...patch.metadata, resourceVersion: this.nextVersion() },
        data: { ...current.data, ...patch.data },
      };
      this.secrets.set(`${req.namespace}/${req.name}`, next);
      return structuredClone(next);
    },
  } as unknown as OutboxKube['core'];

  async getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    this.calls.push('get');
    const secret = this.secrets.get(`${namespace}/${name}`);
    return secret && structuredClone(secret);
  }

  async createSecret(secret: V1Secret & { metadata: { namespace: string } }): Promise<void> {
    this.calls.push('create');
    const key = `${secret.metadata.namespace}/${secret.metadata.name}`;
    if (this.secrets.has(key)) throw apiError(409);
    this.secrets.set(key, { ...structuredClone(secret), metadata: { ...structuredClone(secret.metadata), resourceVersion: this.nextVersion() } });
  }

  /** Someone else writes the Secret. */
  touch(name = SECRET_NAME): void {
    const secret = this.secrets.get(`team-a/${name}`)!;
    secret.metadata!.resourceVersion = this.nextVersion();
  }

  put(data: Record<string, string>): void {
    this.secrets.set(`team-a/${SECRET_NAME}`, { metadata: { name: SECRET_NAME, namespace: 'team-a', resourceVersion: this.nextVersion() }, data });
  }

  stored(): unknown {
    return JSON.parse(gunzipSync(Buffer.from(this.secrets.get(`team-a/${SECRET_NAME}`)!.data![OUTBOX_DATA_KEY], 'base64')).toString('utf8'));
  }

  private nextVersion(): string {
    return String(++this.version);
  }
}

let sequence = 0;
function event(at = Date.UTC(2025, 0, 1), padding = ''): CloudEvent {
  const n = ++sequence;
  return newCloudEvent({
    source: directorySource('team-a', 'corp'),
    type: 'io.idpsync.user.suspended',
    subject: `users/corp-user-${n}`,
    data: { user: { name: `corp-user-${n}`, login: `person${n}@company.example` }, padding },
    now: new Date(at + n),
  });
}

function outbox(...webhooks: Array<[string, CloudEvent[]]>): PersistedOutbox {
  return { webhooks: webhooks.map(([name, events]) => ({ name, events })) };
}

describe('notify/SecretOutboxStore', () => {
  let kube: FakeKube;
  let warnings: string[];
  let owner: V1OwnerReference | undefined;
  let store: SecretOutboxStore;
  let writes: string[];
  const log: NotifierLog = { warn: (message, meta) => warnings.push(`${message} ${JSON.stringify(meta)}`), info: () => {} };

  beforeEach(() => {
    kube = new FakeKube();
    warnings = [];
    writes = [];
    owner = OWNER;
    store = new SecretOutboxStore({
      kube,
      directoryOwner: async (namespace, name) => (namespace === 'team-a' && name === 'corp' ? owner : undefined),
      countWrite: (kind, verb) => writes.push(`${kind} ${verb}`),
      log,
    });
  });

  it('creates the Secret, owned by the DirectorySync, on the first save, and reads it back', async () => {
    expect(await store.load(KEY)).to.equal(undefined);
    const a = event();
    const b = event();
    await store.save(KEY, outbox(['vpn', [a, b]], ['proxy', [b]]));
    expect(kube.calls).to.deep.equal(['get', 'create']);

    const secret = kube.secrets.get(`team-a/${SECRET_NAME}`)!;
    expect(secret.type).to.equal(OUTBOX_SECRET_TYPE);
    expect(secret.metadata!.labels).to.deep.equal({ 'idpsync.io/directory': 'corp', 'app.kubernetes.io/managed-by': 'idpsync' });
    expect(secret.metadata!.ownerReferences).to.deep.equal([OWNER]);
    expect(kube.stored(), 'each event stored once').to.deep.equal({
      version: 1,
      events: [a, b],
      webhooks: [
        { name: 'vpn', ids: [a.id, b.id] },
        { name: 'proxy', ids: [b.id] },
      ],
    });

    const fresh = new SecretOutboxStore({ kube, directoryOwner: async () => OWNER });
    expect(await fresh.load(KEY)).to.deep.equal(outbox(['vpn', [a, b]], ['proxy', [b]]));
  });

  it('updates with the resourceVersion it last saw, and counts the update', async () => {
    await store.load(KEY);
    await store.save(KEY, outbox(['vpn', [event()]]));
    const c = event();
    await store.save(KEY, outbox(['vpn', [c]]));
    await store.save(KEY, outbox(['vpn', []]));
    // After the create the resourceVersion is unknown (KubeClient.createSecret returns nothing): read once.
    expect(kube.calls).to.deep.equal(['get', 'create', 'get', 'patch', 'patch']);
    expect(writes).to.deep.equal(['Secret patch', 'Secret patch']);
    expect(kube.stored()).to.deep.equal({ version: 1, events: [], webhooks: [{ name: 'vpn', ids: [] }] });
  });

  it('after a conflict reads the Secret again and retries once', async () => {
    await store.load(KEY);
    await store.save(KEY, outbox(['vpn', [event()]]));
    await store.save(KEY, outbox(['vpn', [event()]]));
    kube.touch();
    const mine = event();
    await store.save(KEY, outbox(['vpn', [mine]]));
    expect(kube.calls.slice(-3)).to.deep.equal(['patch', 'get', 'patch']);
    expect(kube.stored()).to.deep.include({ webhooks: [{ name: 'vpn', ids: [mine.id] }] });
  });

  it('gives up after a second conflict, with an error that carries no content', async () => {
    await store.load(KEY);
    await store.save(KEY, outbox(['vpn', [event()]]));
    const original = kube.core.patchNamespacedSecret.bind(kube.core);
    (kube.core as { patchNamespacedSecret: unknown }).patchNamespacedSecret = async (req: { namespace: string; name: string; body: unknown }) => {
      kube.touch();
      return original(req as never);
    };
    const secretEvent = event();
    const err = await store.save(KEY, outbox(['vpn', [secretEvent]])).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.equal(`cannot write Secret team-a/${SECRET_NAME}: HTTP 409`);
    expect(kube.calls.filter((c) => c === 'patch')).to.have.length(2);
  });

  it('creates the Secret again when it was deleted behind its back, and updates one created meanwhile', async () => {
    await store.load(KEY);
    await store.save(KEY, outbox(['vpn', [event()]]));
    await store.save(KEY, outbox(['vpn', [event()]]));
    kube.secrets.clear();
    const a = event();
    await store.save(KEY, outbox(['vpn', [a]]));
    expect(kube.calls.slice(-3)).to.deep.equal(['patch', 'get', 'create']);
    expect(kube.stored()).to.deep.include({ webhooks: [{ name: 'vpn', ids: [a.id] }] });

    const other = new SecretOutboxStore({ kube, directoryOwner: async () => OWNER });
    kube.secrets.clear();
    await other.load(KEY); // knows the Secret as absent
    await store.save(KEY, outbox(['vpn', [event()]])); // created by someone else meanwhile
    const b = event();
    await other.save(KEY, outbox(['vpn', [b]]));
    expect(kube.calls.slice(-3)).to.deep.equal(['create', 'get', 'patch']);
    expect(kube.stored()).to.deep.include({ webhooks: [{ name: 'vpn', ids: [b.id] }] });
  });

  it('writes nothing when the DirectorySync is gone', async () => {
    owner = undefined;
    await store.load(KEY);
    expect(await store.save(KEY, outbox(['vpn', [event()]]))).to.deep.equal({});
    expect(kube.calls).to.deep.equal(['get']);
    expect(kube.secrets.size).to.equal(0);
  });

  it('stays within maxBytes by leaving out the oldest events, and says which', async () => {
    // Random padding does not compress, so a handful of events overflow a small limit.
    const events = Array.from({ length: 12 }, () => event(Date.UTC(2025, 0, 1), randomBytes(300).toString('base64')));
    const shuffled = [events[5], events[0], ...events.slice(6), ...events.slice(1, 5)];
    const small = new SecretOutboxStore({ kube, directoryOwner: async () => OWNER, maxBytes: 2_500 });
    const result = await small.save(KEY, outbox(['vpn', shuffled], ['proxy', events.slice(0, 3)]));

    const bytes = Buffer.from(kube.secrets.get(`team-a/${SECRET_NAME}`)!.data![OUTBOX_DATA_KEY], 'base64');
    expect(bytes.length).to.be.at.most(2_500);
    const dropped = result.dropped ?? [];
    expect(dropped.length).to.be.greaterThan(0).and.lessThan(12);
    expect(dropped, 'the oldest go first').to.have.members(events.slice(0, dropped.length).map((e) => e.id));
    const kept = (await small.load(KEY))!;
    const keptIds = kept.webhooks.find((w) => w.name === 'vpn')!.events.map((e) => e.id);
    expect(keptIds).to.deep.equal(shuffled.map((e) => e.id).filter((id) => !dropped.includes(id)));
    expect(keptIds.length + dropped.length).to.equal(12);
  });

  it('holds thousands of ordinary events within the default limit', () => {
    const events = Array.from({ length: 10_000 }, () => event());
    const { bytes, dropped } = encodeOutbox(outbox(['vpn', events], ['proxy', events]), 900 * 1024);
    expect(dropped).to.deep.equal([]);
    expect(bytes.length).to.be.lessThan(900 * 1024);
  });

  for (const [what, data, reason] of [
    ['no data key', {}, `it has no "${OUTBOX_DATA_KEY}"`],
    ['bytes that are not gzip', { [OUTBOX_DATA_KEY]: Buffer.from('{"version":1}').toString('base64') }, 'it is not gzipped JSON'],
    ['gzipped text that is not JSON', { [OUTBOX_DATA_KEY]: gzipSync('not json').toString('base64') }, 'it is not gzipped JSON'],
    ['JSON of another shape', { [OUTBOX_DATA_KEY]: gzipSync('{"version":2,"events":[]}').toString('base64') }, 'it does not have the shape of a version 1 outbox'],
    ['a webhook entry without ids', { [OUTBOX_DATA_KEY]: gzipSync('{"version":1,"events":[],"webhooks":[{"name":"vpn"}]}').toString('base64') }, 'a webhook entry has no name or no ids'],
  ] as const) {
    it(`treats ${what} as nothing kept, with a warning`, async () => {
      kube.put(data);
      expect(await store.load(KEY)).to.equal(undefined);
      expect(warnings).to.deep.equal([
        `ignoring the webhook outbox in Secret ${SECRET_NAME}: ${reason}; pending notifications from before the restart are lost {"directory":"${KEY}"}`,
      ]);
      // It is overwritten by the next save, at the resourceVersion just read.
      const a = event();
      await store.save(KEY, outbox(['vpn', [a]]));
      expect(kube.calls).to.deep.equal(['get', 'patch']);
      expect(kube.stored()).to.deep.include({ webhooks: [{ name: 'vpn', ids: [a.id] }] });
    });
  }

  it('skips malformed events and ids it does not know, and logs no content', async () => {
    const good = event();
    const doc = {
      version: 1,
      events: [good, { ...event(), specversion: '0.3' }, 'garbage', null],
      webhooks: [{ name: 'vpn', ids: [good.id, 'unknown-id'] }],
    };
    kube.put({ [OUTBOX_DATA_KEY]: gzipSync(JSON.stringify(doc)).toString('base64') });
    expect(await store.load(KEY)).to.deep.equal(outbox(['vpn', [good]]));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/^ignoring 3 malformed notification\(s\) in Secret corp-webhook-outbox/);
    expect(warnings.join('\n')).not.to.match(/company\.example|corp-user/);
  });

  it('lets a failure to read the Secret through, so the caller knows nothing was read', async () => {
    const failing = new SecretOutboxStore({
      kube: { ...kube, core: kube.core, getSecret: async () => Promise.reject(apiError(503)), createSecret: kube.createSecret.bind(kube) },
      directoryOwner: async () => OWNER,
    });
    const err = await failing.load(KEY).then(
      () => undefined,
      (e: Error) => e,
    );
    expect((err as { code?: number })?.code).to.equal(503);
  });

  it('names the Secret after the directory, shortened with a hash past 253 characters', () => {
    expect(outboxSecretName('corp')).to.equal('corp-webhook-outbox');
    const long = `${'a'.repeat(120)}.${'b'.repeat(132)}`;
    const name = outboxSecretName(long);
    expect(name).to.have.length.at.most(253);
    expect(name).to.match(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    expect(name.endsWith('-webhook-outbox')).to.equal(true);
    expect(outboxSecretName(`${long.slice(0, -1)}c`)).not.to.equal(name);
  });
});
