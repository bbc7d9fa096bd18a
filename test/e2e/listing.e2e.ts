// An IdP that changes while it is being read, on the real control plane: one page of the user listing is
// served from a view in which a fifth of the people are missing (a retried page answered after the
// directory changed), and one person is really deleted. No one may lose a membership or be deleted on
// that listing; the confirming sync, which the operator schedules by itself, deletes only the person
// who is really gone, with every revocation signal.
import { CoreV1Api, EventsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { expect } from 'chai';
import { OktaEmulator } from '../emulators/okta/emulator.js';
import { generateFixture } from '../emulators/fixture.js';
import type { DirectorySync, User } from '../../src/api/v1alpha1/index.js';
import { adminKubeConfig, newNamespace, waitFor } from './harness/index.js';
import { createDirectory, startTestOperator, syncNow, users, waitForCondition, type TestOperator } from './support/operator.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const PEOPLE = 255;
/** Okta lists users by id, 200 to a page: with u0000010 gone, these are all on the second page. */
const SKIPPED = Array.from({ length: 51 }, (_, i) => `u${String(201 + i).padStart(7, '0')}`);
const REALLY_DELETED = 'u0000010';
const CONFIRM_AFTER_MS = 15_000;

describe('a person missing from one listing is deleted only when a second listing confirms it', function () {
  let op: TestOperator;
  let ns: string;
  let receiver: WebhookReceiver;
  const idp = new OktaEmulator(generateFixture(PEOPLE, 8));
  const secret = 'whsec_' + Buffer.from('signing secret for the listing test').toString('base64');

  before(async () => {
    op = await startTestOperator({ confirmAfterMs: CONFIRM_AFTER_MS });
    ns = await newNamespace('listing');
    receiver = await startWebhookReceiver({ secret });
    await idp.start();
    await adminKubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'gateway-hook' }, stringData: { signingSecret: secret } } });
    await createDirectory(ns, 'corp', idp.connection(), {
      notifications: { webhooks: [{ name: 'gateway', url: receiver.url, secretRef: { name: 'gateway-hook', key: 'signingSecret' }, allowInsecureLoopback: true }] },
    } as Partial<DirectorySync['spec']>);
  });
  after(async () => {
    await op?.stop();
    await receiver?.close();
    await idp.stop();
  });

  it('loses no one and no membership when a page is read from a changed view, then deletes only who is really gone', async () => {
    await waitForCondition(ns, 'corp', 'Ready', 'True', 120_000);
    const before = new Map((await users(ns)).map((u) => [u.spec.idpId, u]));
    expect(before.size).to.equal(PEOPLE);
    const membershipsBefore = [...before.values()].reduce((n, u) => n + u.spec.groups.length, 0);

    // The person really deleted in the IdP, and one page served from a view without 51 others.
    idp.directory.users = idp.directory.users.filter((u) => u.id !== REALLY_DELETED);
    for (const g of idp.directory.groups) g.members = (g.members ?? []).filter((id) => id !== REALLY_DELETED);
    let hidden: typeof idp.directory.users | undefined;
    let armed = true;
    idp.beforeRequest = (req) => {
      if (!armed || req.url.pathname !== '/api/v1/users' || !req.url.searchParams.has('after')) return;
      armed = false;
      hidden = idp.directory.users;
      idp.directory.users = hidden.filter((u) => !SKIPPED.includes(u.id));
    };
    idp.afterRequest = () => {
      if (hidden) [idp.directory.users, hidden] = [hidden, undefined];
    };

    // Okta is read incrementally between full reads; a full read comes after a restart, every hour, or
    // with new credentials: a relabelled Secret (a new version) stands in for that here.
    await adminKubeConfig().makeApiClient(CoreV1Api).patchNamespacedSecret(
      { namespace: ns, name: 'corp-credentials', body: { metadata: { labels: { rotated: 'once' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const missed = await syncNow(ns, 'corp', 120_000);
    expect(armed, 'the second page of users was served from the changed view').to.equal(false);
    const afterMiss = await users(ns);
    const deleted = afterMiss.filter((u) => u.spec.state === 'Deleted');
    const lost = afterMiss.filter((u) => JSON.stringify(u.spec.groups) !== JSON.stringify(before.get(u.spec.idpId)!.spec.groups));
    const marked = afterMiss.filter((u) => u.status?.missingSince).map((u) => u.spec.idpId).sort();
    console.log(`    one listing missed ${SKIPPED.length + 1} of ${PEOPLE} people: ${deleted.length} Users deleted, ${lost.length} Users lost a membership, ${marked.length} marked`);
    expect(deleted, 'Users deleted by one inconsistent listing').to.have.length(0);
    expect(lost.map((u) => u.spec.login), 'Users that lost a membership').to.deep.equal([]);
    expect(marked).to.deep.equal([REALLY_DELETED, ...SKIPPED].sort());
    expect(missed.status!.counts).to.include({ users: PEOPLE, activeUsers: PEOPLE, deletedUsers: 0, memberships: membershipsBefore, missingUsers: SKIPPED.length + 1 });
    expect(missed.status!.conditions!.find((c) => c.type === 'Ready')!.message).to.contain(`${SKIPPED.length + 1} user(s) and 0 group(s) missing from this listing`);
    expect(afterMiss.flatMap((u) => u.status?.revocations ?? [])).to.deep.equal([]);

    // The confirming sync comes by itself, well before the 1h interval.
    const started = Date.now();
    const gone = await waitFor(
      async () => {
        const u = (await users(ns)).find((x) => x.spec.idpId === REALLY_DELETED);
        return u?.spec.state === 'Deleted' ? u : undefined;
      },
      { timeoutMs: CONFIRM_AFTER_MS + 60_000, intervalMs: 500, what: 'the confirming sync to delete the person really gone' },
    );
    console.log(`    the confirming sync deleted them ${((Date.now() - started) / 1000).toFixed(1)} s after the first listing was written (confirmAfterMs ${CONFIRM_AFTER_MS})`);
    expect(gone.spec.groups).to.deep.equal([]);
    const record = gone.status!.revocations!.at(-1)!;
    expect(record).to.deep.include({ reason: 'Deleted', groups: before.get(REALLY_DELETED)!.spec.groups });

    // Revoking writes go first: the marks of those listed again are cleared later in the same apply.
    const final = await waitFor(
      async () => {
        const all = await users(ns);
        return all.some((u) => u.status?.missingSince) ? undefined : all;
      },
      { timeoutMs: 60_000, what: 'the marks of the people listed again to be cleared' },
    );
    expect(final.filter((u) => u.spec.state === 'Deleted').map((u) => u.spec.idpId)).to.deep.equal([REALLY_DELETED]);
    for (const u of final.filter((x) => x.spec.idpId !== REALLY_DELETED)) expect(u.spec.groups, u.spec.login).to.deep.equal(before.get(u.spec.idpId)!.spec.groups);

    const delivered = await waitFor(
      async () => {
        const u = final.find((x) => x.spec.idpId === REALLY_DELETED)!;
        const now = (await users(ns)).find((x) => x.metadata.name === u.metadata.name) as User;
        return now.status!.revocations!.find((r) => r.id === record.id)!.pending.length === 0 ? now : undefined;
      },
      { timeoutMs: 60_000, what: 'every signal of the deletion delivered' },
    );
    expect(delivered.metadata.name).to.equal(gone.metadata.name);
    const hooks = receiver.events.filter((e) => e.type.startsWith('io.idpsync.user.') || e.type === 'io.idpsync.membership.removed');
    expect(hooks.map((e) => `${e.type} ${e.subject}`)).to.deep.equal([`io.idpsync.user.deleted users/${gone.metadata.name}`]);
    const events = await adminKubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
    expect(events.items.filter((e) => e.reason === 'UserDeleted').map((e) => e.regarding?.name)).to.deep.equal([gone.metadata.name]);
    expect(events.items.some((e) => e.reason === 'MissingFromListing')).to.equal(true);
  });
});
