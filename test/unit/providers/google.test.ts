import { expect } from 'chai';
import { StallError, TransientError } from '../../../src/errors.js';
import { GROUPS, MEMBERS, ORG_UNITS, readPage, USERS, type GoogleOrgUnit, type GoogleUser } from '../../../src/providers/google/api.js';
import { orgUnitGroups, splitMembers, toDirectoryUser } from '../../../src/providers/google/model.js';
import { KnownPeople } from '../../../src/providers/members.js';
import { classify, errorText, resourceOf } from '../../../src/providers/google/responses.js';
import { SCOPES, scopesFor } from '../../../src/providers/google/scopes.js';

const WHERE = 'https://admin.googleapis.com/admin/directory/v1/users';

function googleError(code: number, message: string, reason: string) {
  return { error: { code, message, errors: [{ message, domain: 'global', reason }], status: 'PERMISSION_DENIED' } };
}

describe('Google Workspace: reading list pages', () => {
  it('reads users and the next page token', () => {
    const page = readPage(
      {
        kind: 'admin#directory#users',
        nextPageToken: 'abc',
        users: [{ kind: 'admin#directory#user', id: '1', primaryEmail: 'a@example.com', name: { fullName: 'A B' }, suspended: true }],
      },
      USERS,
      WHERE,
    );
    expect(page.nextPageToken).to.equal('abc');
    expect(page.items).to.have.length(1);
    expect(page.items[0]).to.include({ id: '1', primaryEmail: 'a@example.com', suspended: true, archived: false });
  });

  it('treats a page of the right kind without its array as empty (Google omits empty arrays)', () => {
    const page = readPage({ kind: 'admin#directory#members', etag: '"x"' }, MEMBERS, WHERE);
    expect(page.items).to.deep.equal([]);
    expect(page.nextPageToken).to.equal(undefined);
  });

  it('refuses a body that is not the expected list instead of calling it empty', () => {
    for (const body of [{}, { kind: 'admin#directory#groups' }, googleError(500, 'Backend Error', 'backendError'), null, 'text', []]) {
      expect(() => readPage(body, USERS, WHERE), JSON.stringify(body))
        .to.throw(TransientError)
        .with.property('reason', 'MalformedResponse');
    }
  });

  it('refuses a list field that is not an array and items without their identifying fields', () => {
    expect(() => readPage({ kind: 'admin#directory#users', users: {} }, USERS, WHERE)).to.throw(/not a list/);
    expect(() => readPage({ kind: 'admin#directory#users', users: [{ id: '1' }] }, USERS, WHERE)).to.throw(/user #1/);
    expect(() => readPage({ kind: 'admin#directory#groups', groups: [{ email: 'x@example.com' }] }, GROUPS, WHERE)).to.throw(/group #1/);
    expect(() => readPage({ kind: 'admin#directory#members', members: [{ type: 'USER', email: 'x@example.com' }] }, MEMBERS, WHERE)).to.throw(
      /member #1/,
    );
    expect(() => readPage({ kind: 'admin#directory#users', users: [], nextPageToken: 7 }, USERS, WHERE)).to.throw(/nextPageToken/);
  });

  it('accepts a CUSTOMER member without an id', () => {
    const page = readPage({ kind: 'admin#directory#members', members: [{ type: 'CUSTOMER', role: 'MEMBER' }] }, MEMBERS, WHERE);
    expect(page.items[0].type).to.equal('CUSTOMER');
  });

  it('reads org units under organizationUnits', () => {
    const page = readPage(
      {
        kind: 'admin#directory#orgUnits',
        organizationUnits: [{ orgUnitId: 'id:1', orgUnitPath: '/Eng', name: 'Eng', parentOrgUnitPath: '/', parentOrgUnitId: 'id:root' }],
      },
      ORG_UNITS,
      WHERE,
    );
    expect(page.items[0]).to.include({ orgUnitId: 'id:1', orgUnitPath: '/Eng', parentOrgUnitPath: '/' });
  });
});

describe('Google Workspace: mapping users', () => {
  const base: GoogleUser = { id: '1', primaryEmail: 'alice@example.com', name: { givenName: 'Alice', familyName: 'Smith', fullName: 'Alice Smith' } };

  it('maps an active user', () => {
    expect(toDirectoryUser(base)).to.deep.include({
      id: '1',
      login: 'alice@example.com',
      email: 'alice@example.com',
      displayName: 'Alice Smith',
      state: 'Active',
      idpStatus: 'active',
    });
  });

  it('maps suspended and archived users to Suspended', () => {
    expect(toDirectoryUser({ ...base, suspended: true, suspensionReason: 'ADMIN' })).to.include({ state: 'Suspended', idpStatus: 'suspended (ADMIN)' });
    expect(toDirectoryUser({ ...base, archived: true })).to.include({ state: 'Suspended', idpStatus: 'archived' });
  });

  it('builds a display name from the name parts when fullName is missing', () => {
    expect(toDirectoryUser({ ...base, name: { givenName: 'Alice', familyName: 'Smith' } }).displayName).to.equal('Alice Smith');
    expect(toDirectoryUser({ ...base, name: undefined }).displayName).to.equal(undefined);
  });

  it('names the org unit the user sits in when org units are known', () => {
    const units = new Map([['/Eng', 'id:eng']]);
    expect(toDirectoryUser({ ...base, orgUnitPath: '/Eng' }, units).orgUnitId).to.equal('id:eng');
    expect(toDirectoryUser({ ...base, orgUnitPath: '/' }, units).orgUnitId).to.equal(undefined);
    expect(toDirectoryUser({ ...base, orgUnitPath: '/Eng' }).orgUnitId).to.equal(undefined);
  });
});

describe('Google Workspace: member typing', () => {
  const users = new KnownPeople(['u1', 'u2']);
  const groups = new Set(['g1']);

  it('sorts USER and GROUP members and leaves CUSTOMER out', () => {
    const split = splitMembers(
      [
        { type: 'USER', id: 'u1' },
        { type: 'GROUP', id: 'g1' },
        { type: 'CUSTOMER', id: 'C123' },
        { type: 'USER', id: 'u2' },
      ],
      users,
      groups,
    );
    expect(split.userIds).to.deep.equal(['u1', 'u2']);
    expect(split.groupIds).to.deep.equal(['g1']);
    expect(split.skipped).to.deep.equal({ CUSTOMER: 1 });
  });

  it('leaves out members the snapshot cannot name (external users, unlisted groups) and duplicates', () => {
    const split = splitMembers(
      [
        { type: 'USER', id: 'outsider' },
        { type: 'GROUP', id: 'g-elsewhere' },
        { type: 'USER', id: 'u1' },
        { type: 'USER', id: 'u1' },
      ],
      users,
      groups,
    );
    expect(split.userIds).to.deep.equal(['u1']);
    expect(split.groupIds).to.deep.equal([]);
    expect(split.skipped).to.deep.equal({ 'USER outside the synced users': 1, 'GROUP outside the synced groups': 1 });
  });
});

describe('Google Workspace: org units as groups', () => {
  const units: GoogleOrgUnit[] = [
    { orgUnitId: 'id:eng', orgUnitPath: '/Engineering', name: 'Engineering', parentOrgUnitPath: '/', parentOrgUnitId: 'id:root' },
    { orgUnitId: 'id:plat', orgUnitPath: '/Engineering/Platform', name: 'Platform', parentOrgUnitPath: '/Engineering', parentOrgUnitId: 'id:eng' },
    // No parent id: found through the parent's path.
    { orgUnitId: 'id:sre', orgUnitPath: '/Engineering/Platform/SRE', name: 'SRE', parentOrgUnitPath: '/Engineering/Platform' },
    { orgUnitId: 'id:sales', orgUnitPath: '/Sales', name: 'Sales', parentOrgUnitPath: '/', parentOrgUnitId: 'id:root' },
  ];
  const users: GoogleUser[] = [
    { id: 'u-root', primaryEmail: 'r@example.com', orgUnitPath: '/' },
    { id: 'u-eng', primaryEmail: 'e@example.com', orgUnitPath: '/Engineering' },
    { id: 'u-sre', primaryEmail: 's@example.com', orgUnitPath: '/Engineering/Platform/SRE' },
    { id: 'u-nopath', primaryEmail: 'n@example.com' },
  ];

  it('makes one OrgUnit group per unit, named by path, with its direct users and its child units', () => {
    const groups = new Map(orgUnitGroups(units, users).map((g) => [g.id, g]));
    expect([...groups.keys()]).to.deep.equal(['id:eng', 'id:plat', 'id:sre', 'id:sales']);
    expect(groups.get('id:eng')).to.deep.include({ name: '/Engineering', kind: 'OrgUnit', memberUserIds: ['u-eng'], memberGroupIds: ['id:plat'] });
    expect(groups.get('id:plat')).to.deep.include({ memberUserIds: [], memberGroupIds: ['id:sre'] });
    expect(groups.get('id:sre')).to.deep.include({ memberUserIds: ['u-sre'], memberGroupIds: [] });
    expect(groups.get('id:sales')).to.deep.include({ memberUserIds: [], memberGroupIds: [] });
  });

  it('puts users of the root in no unit group', () => {
    const members = orgUnitGroups(units, users).flatMap((g) => g.memberUserIds);
    expect(members).to.not.include('u-root');
    expect(members).to.not.include('u-nopath');
  });
});

describe('Google Workspace: errors', () => {
  it('extracts Google\'s message and reason', () => {
    expect(errorText(googleError(403, 'Not Authorized to access this resource/api', 'forbidden'))).to.equal(
      'Not Authorized to access this resource/api (forbidden)',
    );
    expect(errorText({ something: 'else' })).to.equal(undefined);
    expect(errorText('plain text')).to.equal('plain text');
  });

  it('treats quota 403s and 429 as rate limiting', () => {
    for (const reason of ['userRateLimitExceeded', 'rateLimitExceeded', 'quotaExceeded']) {
      const err = classify(403, googleError(403, 'Quota exceeded', reason), new Headers(), WHERE);
      expect(err, reason).to.be.instanceOf(TransientError).with.property('reason', 'RateLimited');
    }
    expect(classify(429, googleError(429, 'Rate Limit Exceeded', 'rateLimitExceeded'), new Headers(), WHERE))
      .to.be.instanceOf(TransientError)
      .with.property('reason', 'RateLimited');
  });

  it('names the missing scope when the token lacks it', () => {
    const err = classify(
      403,
      googleError(403, 'Request had insufficient authentication scopes.', 'insufficientPermissions'),
      new Headers(),
      'https://admin.googleapis.com/admin/directory/v1/groups/g1/members',
    );
    expect(err).to.be.instanceOf(StallError).with.property('reason', 'AccessDenied');
    expect((err as StallError).missingPermission).to.equal(SCOPES.members);
    expect(err!.message).to.include('insufficient authentication scopes');
  });

  it('names the admin privilege when the impersonated account may not read', () => {
    const err = classify(403, googleError(403, 'Not Authorized to access this resource/api', 'forbidden'), new Headers(), WHERE) as StallError;
    expect(err.reason).to.equal('AccessDenied');
    expect(err.missingPermission).to.match(/Users › Read/);
    expect(err.message).to.include('Not Authorized to access this resource/api');
  });

  it('says to enable the Admin SDK API when the project has it off', () => {
    const message = 'Admin SDK API has not been used in project 123 before or it is disabled.';
    const err = classify(403, googleError(403, message, 'accessNotConfigured'), new Headers(), WHERE) as StallError;
    expect(err.reason).to.equal('AccessDenied');
    expect(err.message).to.include(message);
    expect(err.missingPermission).to.match(/Admin SDK API/);
  });

  it('leaves other statuses to the default mapping', () => {
    expect(classify(500, googleError(500, 'Backend Error', 'backendError'), new Headers(), WHERE)).to.equal(undefined);
    expect(classify(401, googleError(401, 'Invalid Credentials', 'authError'), new Headers(), WHERE)).to.equal(undefined);
  });

  it('knows which resource a path reads', () => {
    expect(resourceOf('https://admin.googleapis.com/admin/directory/v1/users')).to.equal('users');
    expect(resourceOf('https://admin.googleapis.com/admin/directory/v1/groups')).to.equal('groups');
    expect(resourceOf('http://127.0.0.1:1/admin/directory/v1/groups/a%40b.com/members')).to.equal('members');
    expect(resourceOf('https://admin.googleapis.com/admin/directory/v1/customer/my_customer/orgunits')).to.equal('orgUnits');
    expect(resourceOf('https://admin.googleapis.com/somewhere/else')).to.equal(undefined);
  });
});

describe('Google Workspace: scopes', () => {
  it('asks for the org unit scope only when org units are synced', () => {
    expect(scopesFor(false)).to.deep.equal([SCOPES.users, SCOPES.groups, SCOPES.members]);
    expect(scopesFor(true)).to.deep.equal([SCOPES.users, SCOPES.groups, SCOPES.members, SCOPES.orgUnits]);
    for (const scope of scopesFor(true)) expect(scope).to.match(/^https:\/\/www\.googleapis\.com\/auth\/admin\.directory\.[a-z.]+\.readonly$/);
  });
});
