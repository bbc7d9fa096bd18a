// applyPlan against an in-memory apiserver: a write refused for now (409, 429 with a short Retry-After)
// is sent again for that object instead of failing the sync, revocations still go before grants, and a
// write that keeps failing still stops the plan.
import { expect } from 'chai';
import { API_VERSION, type DirectorySync, type Group, type User } from '../../../src/api/v1alpha1/index.js';
import { ApplyStopped, applyPlan } from '../../../src/controllers/directorysync/apply.js';
import { decide, type Plan } from '../../../src/directory/decide.js';
import { FakeApiError, MemoryKube, type KubeCall } from '../../support/memory-kube.js';
import { directory, group, snapshot, user } from '../../support/builders.js';

const NS = 'team-a';
const FAST = { baseDelayMs: 1, maxDelayMs: 2000 };
const ds: DirectorySync = { apiVersion: API_VERSION, kind: 'DirectorySync', metadata: { name: 'corp', namespace: NS, uid: 'ds-uid', generation: 1 }, spec: directory().spec } as DirectorySync;

const everyone = () => snapshot([user('u1', 'ann@x.io'), user('u2', 'ben@x.io'), user('u3', 'cat@x.io')], [group('g1', 'eng', ['u1', 'u2', 'u3'])]);
/** Ann is suspended (a revocation), Dan joins eng (a grant). */
const changed = () => snapshot([user('u1', 'ann@x.io', { state: 'Suspended' }), user('u2', 'ben@x.io'), user('u3', 'cat@x.io'), user('u4', 'dan@x.io')], [group('g1', 'eng', ['u2', 'u3', 'u4'])]);

/** Applies the first sync, then returns the plan that takes the cluster to `next`. */
async function synced(kube: MemoryKube, next = changed()): Promise<Plan> {
  const plan = (snap: ReturnType<typeof everyone>) =>
    decide({ directory: directory(), snapshot: snap, existingUsers: kube.all<User>('User', NS), existingGroups: kube.all<Group>('Group', NS), now: new Date('2026-03-01T00:00:00Z') });
  await applyPlan(kube, ds, plan(everyone()), kube.all<Group>('Group', NS), { concurrency: 4, writeRetry: FAST });
  kube.calls.length = 0;
  return plan(next);
}

const userApply = (login: string) => (c: KubeCall) => c.verb === 'apply' && c.kind === 'User' && (c.body as { spec?: { login?: string } })?.spec?.login === login;

/** Refuses the first `times` calls that match with `error()`. */
function refuse(times: number, matches: (c: KubeCall) => boolean, error: () => Error) {
  let left = times;
  return (c: KubeCall) => (matches(c) && left-- > 0 ? error() : undefined);
}

const conflict = () => new FakeApiError(409, 'Operation cannot be fulfilled on users.idpsync.io "ann": the object has been modified');

describe('applyPlan: writes refused for now', () => {
  it('sends a User write refused with 409 again, and the plan completes with revocations first', async () => {
    const kube = new MemoryKube();
    const plan = await synced(kube);
    kube.fail(refuse(3, userApply('ann@x.io'), conflict));
    const result = await applyPlan(kube, ds, plan, kube.all<Group>('Group', NS), { concurrency: 4, writeRetry: FAST });
    expect(kube.writes().filter(userApply('ann@x.io')), 'sends of the conflicting write').to.have.length(4);
    expect(result.rejected).to.deep.equal([]);
    expect(kube.all<User>('User', NS).find((u) => u.spec.login === 'ann@x.io')?.spec.state).to.equal('Suspended');
    expect(kube.all<User>('User', NS).find((u) => u.spec.login === 'dan@x.io')?.spec.groups.join(',')).to.contain('eng');
    const writes = kube.writes().map((c) => `${c.kind} ${(c.body as { spec?: { login?: string } })?.spec?.login ?? c.name}`);
    const lastRevocation = writes.lastIndexOf('User ann@x.io');
    const firstGrant = writes.findIndex((w) => w.startsWith('Group') || w === 'User dan@x.io');
    expect(lastRevocation, writes.join(', ')).to.be.lessThan(firstGrant);
  });

  it('waits out a 429 with a short Retry-After for that object', async () => {
    const kube = new MemoryKube();
    const plan = await synced(kube);
    kube.fail(refuse(2, userApply('dan@x.io'), () => new FakeApiError(429, 'Too many requests, please try again later.', { 'retry-after': '0' })));
    await applyPlan(kube, ds, plan, kube.all<Group>('Group', NS), { concurrency: 4, writeRetry: FAST });
    expect(kube.writes().filter(userApply('dan@x.io'))).to.have.length(3);
    expect(kube.all<User>('User', NS).map((u) => u.spec.login)).to.include('dan@x.io');
  });

  it('leaves a long Retry-After to the sync: one send, and the plan stops with it', async () => {
    const kube = new MemoryKube();
    const plan = await synced(kube);
    kube.fail(refuse(1, userApply('ann@x.io'), () => new FakeApiError(429, 'Too many requests', { 'retry-after': '30' })));
    const err = await applyPlan(kube, ds, plan, kube.all<Group>('Group', NS), { concurrency: 4, writeRetry: FAST }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ApplyStopped);
    expect(kube.writes().filter(userApply('ann@x.io'))).to.have.length(1);
    expect(((err as ApplyStopped).failure as { retryAfterMs?: number }).retryAfterMs).to.equal(30_000);
  });

  it('stops the plan when the conflict outlasts the retries, before anything is granted', async () => {
    const kube = new MemoryKube();
    const plan = await synced(kube);
    kube.fail(refuse(Infinity, userApply('ann@x.io'), conflict));
    const err = await applyPlan(kube, ds, plan, kube.all<Group>('Group', NS), { concurrency: 4, writeRetry: { ...FAST, retries: 2 } }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ApplyStopped);
    expect(((err as ApplyStopped).failure as { reason?: string }).reason).to.equal('Conflict');
    expect(kube.writes().filter(userApply('ann@x.io')), 'first send and two retries').to.have.length(3);
    expect(kube.writes().filter((c) => c.kind === 'Group' || userApply('dan@x.io')(c)), 'grants').to.deep.equal([]);
  });

  it('starts no retry once another write of the step has failed for good', async () => {
    const kube = new MemoryKube();
    // Ben and Cat are both suspended, so written in the same step; Ben conflicts, Cat's write fails for good.
    const plan = await synced(kube, snapshot([user('u1', 'ann@x.io'), user('u2', 'ben@x.io', { state: 'Suspended' }), user('u3', 'cat@x.io', { state: 'Suspended' })], [group('g1', 'eng', ['u1'])]));
    kube.fail(refuse(Infinity, userApply('ben@x.io'), conflict));
    kube.fail(refuse(Infinity, userApply('cat@x.io'), () => new FakeApiError(500, 'etcdserver: request timed out')));
    const err = await applyPlan(kube, ds, plan, kube.all<Group>('Group', NS), { concurrency: 4, writeRetry: { baseDelayMs: 50, maxDelayMs: 2000, retries: 4 } }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ApplyStopped);
    expect(kube.writes().filter(userApply('ben@x.io')), 'sends of the conflicting write').to.have.length(1);
  });
});

describe('applyPlan: a plan handed over (release)', () => {
  it('empties the plan of its Users and Groups and still writes every one of them, revocations first', async () => {
    const kube = new MemoryKube();
    const plan = await synced(kube);
    const users = plan.users.map((u) => u.spec.login);
    const groups = plan.groups.map((g) => g.name);
    expect(users).to.include.members(['ann@x.io', 'dan@x.io']);
    const result = await applyPlan(kube, ds, plan, kube.all<Group>('Group', NS), { concurrency: 4, writeRetry: FAST, release: true });
    expect(plan.users, 'plan.users').to.deep.equal([]);
    expect(plan.groups, 'plan.groups').to.deep.equal([]);
    expect(result.writes).to.equal(users.length + groups.length);
    const written = kube.writes().map((c) => (c.kind === 'User' ? (c.body as User).spec.login : c.name));
    expect(written).to.have.members([...users, ...groups]);
    expect(written.indexOf('ann@x.io'), 'the suspension before any grant').to.equal(0);
  });

  it('leaves the plan whole without it', async () => {
    const kube = new MemoryKube();
    const plan = await synced(kube);
    const before = plan.users.length + plan.groups.length;
    await applyPlan(kube, ds, plan, kube.all<Group>('Group', NS), { concurrency: 4, writeRetry: FAST });
    expect(plan.users.length + plan.groups.length).to.equal(before);
  });
});
