import { expect } from 'chai';
import { accessOfUser, findUsers, whoCanReach } from '../../../src/access/resolve.js';
import { policyGrants, groupsByName } from '../../../src/access/rule.js';
import { group, policy, user } from './builders.js';

const addresses = (access: ReturnType<typeof accessOfUser>) => access.grants.map((g) => `${g.policy} ${g.resource.address}`);

describe('accessOfUser', () => {
  const groups = [group('eng', 'Engineering'), group('devops', 'DevOps'), group('support', 'Support')];

  it('lists every resource of every Ready Policy granting through one of the user\'s groups, sorted by policy then address', () => {
    const policies = [
      policy('web', 'eng', ['*.corp.example', '10.0.0.0/8']),
      policy('db', 'devops', [{ address: '10.20.0.0/16', ports: ['5432'], protocols: ['TCP'] }]),
      policy('helpdesk', 'support', ['helpdesk.corp.example']),
    ];
    const access = accessOfUser(user('alice', ['eng', 'devops']), groups, policies);
    expect(addresses(access)).to.deep.equal(['db 10.20.0.0/16', 'web *.corp.example', 'web 10.0.0.0/8']);
    expect(access.grants[0]).to.deep.equal({
      policy: 'db',
      group: 'devops',
      groupDisplayName: 'DevOps',
      directory: 'corp',
      resource: { address: '10.20.0.0/16', ports: ['5432'], protocols: ['TCP'] },
    });
    expect(access.grants[1].resource).to.deep.equal({ address: '*.corp.example', ports: [], protocols: [] });
    expect(access.user).to.include({ name: 'alice', login: 'alice@corp.example', state: 'Active' });
    expect(access.user.groups).to.deep.equal([
      { name: 'devops', displayName: 'DevOps' },
      { name: 'eng', displayName: 'Engineering' },
    ]);
    expect(access.inertPolicies).to.deep.equal([]);
  });

  it('grants through nested groups exactly as spec.groups lists them after flattening', () => {
    // Everyone ⊃ Engineering ⊃ DevOps: a DevOps member's spec.groups names all three.
    const nested = [group('everyone', 'Everyone'), group('eng', 'Engineering'), group('devops', 'DevOps')];
    const policies = [policy('all-hands', 'everyone', ['wiki.corp.example']), policy('eng', 'eng', ['git.corp.example'])];
    const access = accessOfUser(user('dana', ['everyone', 'eng', 'devops']), nested, policies);
    expect(addresses(access)).to.deep.equal(['all-hands wiki.corp.example', 'eng git.corp.example']);
  });

  it('ignores a Policy that is not Ready, and says why', () => {
    const policies = [policy('web', 'eng', ['10.0.0.0/8'], { ready: 'False' }), policy('ping', 'eng', ['10.0.0.1'], { ready: 'absent' })];
    const access = accessOfUser(user('alice', ['eng']), groups, policies);
    expect(access.grants).to.deep.equal([]);
    expect(access.inertPolicies).to.deep.equal([
      { policy: 'ping', group: 'eng', reason: 'PolicyNotReady' },
      { policy: 'web', group: 'eng', reason: 'PolicyNotReady', ready: { status: 'False', reason: 'GroupNotFound', message: 'no Group matches' } },
    ]);
  });

  it('ignores a Ready Policy whose group does not exist, even when the user still lists it', () => {
    const access = accessOfUser(user('alice', ['gone']), groups, [policy('old', 'gone', ['10.0.0.0/8'])]);
    expect(access.grants).to.deep.equal([]);
    expect(access.inertPolicies).to.deep.equal([{ policy: 'old', group: 'gone', reason: 'GroupNotFound' }]);
    expect(access.user.groups).to.deep.equal([{ name: 'gone' }]);
  });

  it('ignores a Ready Policy without a resolved group', () => {
    const access = accessOfUser(user('alice', ['eng']), groups, [policy('pending', 'eng', ['10.0.0.0/8'], { resolvedGroup: undefined })]);
    expect(access.grants).to.deep.equal([]);
  });

  it('gives a suspended or deleted user nothing, even if their groups were left in place', () => {
    const policies = [policy('web', 'eng', ['10.0.0.0/8'])];
    for (const state of ['Suspended', 'Deleted'] as const) {
      const access = accessOfUser(user('bob', ['eng'], { state }), groups, policies);
      expect(access.grants, state).to.deep.equal([]);
      expect(access.user.state).to.equal(state);
    }
  });

  it('takes access away when the user leaves the group', () => {
    const policies = [policy('web', 'eng', ['10.0.0.0/8'])];
    expect(accessOfUser(user('carol', ['eng']), groups, policies).grants).to.have.length(1);
    expect(accessOfUser(user('carol', []), groups, policies).grants).to.deep.equal([]);
  });

  it('only grants within one namespace', () => {
    const otherNamespace = [policy('web', 'eng', ['10.0.0.0/8'], { namespace: 'team-b' })];
    expect(accessOfUser(user('alice', ['eng']), groups, otherNamespace).grants).to.deep.equal([]);
    const groupElsewhere = [group('eng', 'Engineering', {}, 'team-b')];
    expect(accessOfUser(user('alice', ['eng']), groupElsewhere, [policy('web', 'eng', ['10.0.0.0/8'])]).grants).to.deep.equal([]);
  });

  it('keeps duplicate addresses of one policy in their declared order', () => {
    const access = accessOfUser(user('alice', ['eng']), groups, [
      policy('web', 'eng', [{ address: '10.0.0.1', ports: ['443'] }, { address: '10.0.0.1', ports: ['80'] }]),
    ]);
    expect(access.grants.map((g) => g.resource.ports)).to.deep.equal([['443'], ['80']]);
  });
});

describe('policyGrants', () => {
  it('is the rule both resolvers apply', () => {
    const byName = groupsByName([group('eng')]);
    expect(policyGrants(policy('p', 'eng', ['x.corp']), byName, user('a', ['eng']))).to.equal(true);
    expect(policyGrants(policy('p', 'eng', ['x.corp'], { ready: 'Unknown' }), byName, user('a', ['eng']))).to.equal(false);
    expect(policyGrants(policy('p', 'missing', ['x.corp']), byName, user('a', ['missing']))).to.equal(false);
    expect(policyGrants(policy('p', 'eng', ['x.corp']), byName, user('a', ['eng'], { state: 'Suspended' }))).to.equal(false);
    expect(policyGrants(policy('p', 'eng', ['x.corp']), byName, user('a', ['other']))).to.equal(false);
  });
});

describe('whoCanReach', () => {
  const groups = [group('eng', 'Engineering'), group('devops', 'DevOps'), group('empty', 'Empty')];
  const users = [
    user('zoe', ['eng']),
    user('alice', ['eng', 'devops']),
    user('bob', ['eng'], { state: 'Suspended' }),
    user('carol', ['devops']),
  ];
  const policies = [
    policy('eng-net', 'eng', ['10.0.0.0/8', 'git.corp.example']),
    policy('db', 'devops', [{ address: '10.20.0.0/16', ports: ['5432'], protocols: ['TCP'] }]),
    policy('inert', 'eng', ['10.0.0.0/8'], { ready: 'False' }),
    policy('nobody', 'empty', ['10.20.0.0/16']),
  ];

  it('lists each covering resource of each granting Policy with its Active users, sorted', () => {
    const reach = whoCanReach({ address: '10.20.1.2' }, users, groups, policies);
    expect(reach.map((r) => [r.policy, r.resource.address, r.users])).to.deep.equal([
      ['db', '10.20.0.0/16', ['alice@corp.example', 'carol@corp.example']],
      ['eng-net', '10.0.0.0/8', ['alice@corp.example', 'zoe@corp.example']],
      ['nobody', '10.20.0.0/16', []],
    ]);
    expect(reach[0]).to.include({ group: 'devops', groupDisplayName: 'DevOps', directory: 'corp' });
  });

  it('narrows by port and protocol', () => {
    expect(whoCanReach({ address: '10.20.1.2', port: 5432, protocol: 'TCP' }, users, groups, policies).map((r) => r.policy)).to.deep.equal([
      'db',
      'eng-net',
      'nobody',
    ]);
    expect(whoCanReach({ address: '10.20.1.2', port: 22 }, users, groups, policies).map((r) => r.policy)).to.deep.equal(['eng-net', 'nobody']);
    expect(whoCanReach({ address: '10.20.1.2', protocol: 'UDP' }, users, groups, policies).map((r) => r.policy)).to.deep.equal(['eng-net', 'nobody']);
  });

  it('matches DNS names and answers with nothing when no Ready Policy covers the query', () => {
    expect(whoCanReach({ address: 'GIT.corp.example' }, users, groups, policies).map((r) => r.users)).to.deep.equal([['alice@corp.example', 'zoe@corp.example']]);
    expect(whoCanReach({ address: '192.168.0.1' }, users, groups, policies)).to.deep.equal([]);
    expect(whoCanReach({ address: '10.0.0.0/7' }, users, groups, policies)).to.deep.equal([]);
  });
});

describe('findUsers', () => {
  const users = [
    user('corp-alice', [], { login: 'Alice@Corp.example', email: 'alice.smith@corp.example' }),
    user('lab-alice', [], { login: 'alice@corp.example', directory: 'lab' }),
    user('corp-bob', []),
  ];

  it('matches the object name exactly and login or email ignoring case, one per directory', () => {
    expect(findUsers(users, 'ALICE@corp.example').map((u) => u.metadata.name)).to.deep.equal(['corp-alice', 'lab-alice']);
    expect(findUsers(users, 'alice.SMITH@corp.example').map((u) => u.metadata.name)).to.deep.equal(['corp-alice']);
    expect(findUsers(users, 'corp-bob').map((u) => u.metadata.name)).to.deep.equal(['corp-bob']);
    expect(findUsers(users, 'CORP-BOB')).to.deep.equal([]);
    expect(findUsers(users, 'alice')).to.deep.equal([]);
  });
});
