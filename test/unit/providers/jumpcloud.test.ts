import { expect } from 'chai';
import { StallError, TransientError } from '../../../src/errors.js';
import { consoleUrl } from '../../../src/providers/jumpcloud/driver.js';
import { KnownPeople } from '../../../src/providers/members.js';
import {
  parseGraphConnection,
  parseSystemUserList,
  toDirectoryGroup,
  toDirectoryUser,
  userState,
  type SystemUser,
} from '../../../src/providers/jumpcloud/model.js';
import { listAll, type Page } from '../../../src/providers/offset-paging.js';
import { classifyFor, errorText, permissionFor } from '../../../src/providers/jumpcloud/responses.js';

/** A server over `rows` that answers limit+skip requests, and can change `rows` between requests. */
function pagedServer(rows: string[], opts: { withTotal?: boolean; beforeRequest?: (n: number, rows: string[]) => void } = {}) {
  const requests: { skip: number; limit: number }[] = [];
  const fetchPage = async (skip: number, limit: number): Promise<Page<string>> => {
    opts.beforeRequest?.(requests.length, rows);
    requests.push({ skip, limit });
    return { items: rows.slice(skip, skip + limit), totalCount: opts.withTotal ? rows.length : undefined };
  };
  return { fetchPage, requests };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `id${String(i).padStart(4, '0')}`);
const options = (limit: number) => ({ limit, id: (s: string) => s, what: 'GET /test' });

describe('JumpCloud paging', () => {
  it('reads every row once, each page after the first starting on the last row already read', async () => {
    const rows = ids(25);
    const server = pagedServer(rows, { withTotal: true });
    expect(await listAll(server.fetchPage, options(10))).to.deep.equal(rows);
    expect(server.requests.map((r) => r.skip)).to.deep.equal([0, 9, 18]);
  });

  it('stops on a short page when the endpoint gives no total (v2)', async () => {
    const rows = ids(20);
    const server = pagedServer(rows);
    expect(await listAll(server.fetchPage, options(10))).to.deep.equal(rows);
    // 10 rows, then 9 new + 1 repeated = full page, then the last row alone: short, done.
    expect(server.requests.map((r) => r.skip)).to.deep.equal([0, 9, 18]);
  });

  it('stops as soon as totalCount rows are read, without an extra request', async () => {
    const server = pagedServer(ids(10), { withTotal: true });
    await listAll(server.fetchPage, options(10));
    expect(server.requests).to.have.length(1);
  });

  it('reads an empty list in one request', async () => {
    const server = pagedServer([], { withTotal: true });
    expect(await listAll(server.fetchPage, options(10))).to.deep.equal([]);
    expect(server.requests).to.have.length(1);
  });

  it('starts over when a row before the current page is deleted, so no row is skipped', async () => {
    const rows = ids(25);
    const server = pagedServer(rows, {
      beforeRequest: (n, live) => {
        if (n === 1) live.splice(2, 1); // id0002 deleted after the first page
      },
    });
    const read = await listAll(server.fetchPage, options(10));
    expect(read).to.deep.equal(ids(25).filter((id) => id !== 'id0002'));
    expect(server.requests.map((r) => r.skip)).to.deep.equal([0, 9, 0, 9, 18]); // mismatch on the second request, then a clean pass
  });

  it('starts over when a row is inserted before the current page, so no row is read twice', async () => {
    const rows = ids(25);
    const server = pagedServer(rows, {
      beforeRequest: (n, live) => {
        if (n === 1) live.splice(0, 0, 'id0000a');
      },
    });
    const read = await listAll(server.fetchPage, options(10));
    expect(new Set(read).size).to.equal(read.length);
    expect(read).to.have.length(26);
  });

  it('starts over when totalCount changes between pages (a row added at the end)', async () => {
    const rows = ids(25);
    const server = pagedServer(rows, {
      withTotal: true,
      beforeRequest: (n, live) => {
        if (n === 1) live.push('id9999');
      },
    });
    const read = await listAll(server.fetchPage, options(10));
    expect(read).to.have.length(26);
    expect(read.at(-1)).to.equal('id9999');
  });

  it('gives up with a TransientError when the list keeps changing, never returning part of it', async () => {
    let added = 0;
    const server = pagedServer(ids(25), {
      withTotal: true,
      beforeRequest: (n, live) => {
        if (n % 2 === 1) live.push(`new${added++}`);
      },
    });
    const err = await listAll(server.fetchPage, options(10)).catch((e) => e);
    expect(err).to.be.instanceOf(TransientError);
    expect(err.message).to.contain('changed while it was being read');
  });

  it('rejects a list whose rows fall short of totalCount', async () => {
    const fetchPage = async (): Promise<Page<string>> => ({ items: ['a'], totalCount: 2 });
    const err = await listAll(fetchPage, { ...options(10), maxPasses: 1 }).catch((e) => e);
    expect(err).to.be.instanceOf(TransientError);
    expect(err.message).to.contain('totalCount said 2 but 1 rows were read');
  });

  it('refuses a limit that cannot make progress with the overlapping row', async () => {
    const err = await listAll(pagedServer([]).fetchPage, options(1)).catch((e) => e);
    expect(err).to.be.instanceOf(RangeError);
  });
});

const user = (fields: Partial<SystemUser>): SystemUser => ({ _id: 'u1', username: 'alice', email: 'alice@example.com', ...fields });

describe('JumpCloud user mapping', () => {
  const cases: [string, Partial<SystemUser>, string, string][] = [
    ['an activated user', { state: 'ACTIVATED', activated: true }, 'Active', 'ACTIVATED'],
    ['a suspended user', { state: 'SUSPENDED', suspended: true, activated: true }, 'Suspended', 'SUSPENDED'],
    ['a user with only suspended:true', { state: 'ACTIVATED', suspended: true }, 'Suspended', 'SUSPENDED'],
    ['a staged user', { state: 'STAGED', activated: false }, 'Suspended', 'STAGED'],
    ['an ACTIVATED user who never activated the account', { state: 'ACTIVATED', activated: false }, 'Suspended', 'PENDING_ACTIVATION'],
    ['a locked-out user', { state: 'ACTIVATED', activated: true, account_locked: true }, 'Active', 'LOCKED'],
    ['a suspended and locked user', { state: 'SUSPENDED', suspended: true, account_locked: true }, 'Suspended', 'SUSPENDED'],
    ['a user without state (older records)', { activated: true }, 'Active', 'ACTIVATED'],
  ];
  for (const [name, fields, state, idpStatus] of cases) {
    it(`maps ${name} to ${state} (${idpStatus})`, () => {
      expect(userState(user(fields))).to.deep.equal({ state, idpStatus });
    });
  }

  it('signs in by email, falling back to the username', () => {
    expect(toDirectoryUser(user({})).login).to.equal('alice@example.com');
    const noEmail = toDirectoryUser(user({ email: '' }));
    expect(noEmail.login).to.equal('alice');
    expect(noEmail.email).to.equal(undefined);
  });

  it('takes displayname, else first and last name', () => {
    expect(toDirectoryUser(user({ displayname: 'Ally S', firstname: 'Alice', lastname: 'Smith' })).displayName).to.equal('Ally S');
    expect(toDirectoryUser(user({ displayname: '', firstname: 'Alice', lastname: 'Smith' })).displayName).to.equal('Alice Smith');
    expect(toDirectoryUser(user({ firstname: 'Alice' })).displayName).to.equal('Alice');
    expect(toDirectoryUser(user({})).displayName).to.equal(undefined);
  });

  it('refuses a user it cannot name', () => {
    expect(() => toDirectoryUser(user({ email: '', username: '' }))).to.throw(TransientError, /neither email nor username/);
  });
});

describe('JumpCloud response parsing', () => {
  it('accepts a v1 list and rejects anything without totalCount and results', () => {
    expect(parseSystemUserList({ totalCount: 1, results: [{ _id: 'u1' }] }).results[0]._id).to.equal('u1');
    expect(() => parseSystemUserList({ results: [] })).to.throw(TransientError, /totalCount, results/);
    expect(() => parseSystemUserList([])).to.throw(TransientError);
    expect(() => parseSystemUserList({ totalCount: 1, results: [{ username: 'x' }] })).to.throw(TransientError, /without an _id/);
  });

  it('requires to.id and to.type on a member', () => {
    expect(parseGraphConnection({ to: { id: 'u1', type: 'user' } }, 'GET x').to.id).to.equal('u1');
    expect(() => parseGraphConnection({ to: { id: 'u1' } }, 'GET x')).to.throw(TransientError, /to.id and to.type/);
  });

  it('sorts members into users and nested groups, dropping ids the snapshot does not hold', () => {
    const group = toDirectoryGroup(
      { id: 'g1', name: 'Eng', description: '' },
      [
        { to: { id: 'u1', type: 'user' } },
        { to: { id: 'u-gone', type: 'user' } },
        { to: { id: 'g2', type: 'user_group' } },
        { to: { id: 'g1', type: 'user_group' } },
        { to: { id: 's1', type: 'system' } },
      ],
      new KnownPeople(['u1']),
      new Set(['g1', 'g2']),
    );
    expect(group).to.deep.equal({ id: 'g1', name: 'Eng', kind: 'Group', description: undefined, memberUserIds: ['u1'], memberGroupIds: ['g2'] });
  });
});

describe('JumpCloud errors', () => {
  it("takes JumpCloud's message, then error, then a plain-text body", () => {
    expect(errorText({ error: 'Unauthorized', message: 'Unauthorized: api key user not found' })).to.equal('Unauthorized: api key user not found');
    expect(errorText({ error: 'Forbidden' })).to.equal('Forbidden');
    expect(errorText('upstream connect error')).to.equal('upstream connect error');
    expect(errorText({})).to.equal(undefined);
  });

  it('turns a 401 into InvalidCredentials that says the key was rejected', () => {
    const err = classifyFor(undefined)(401, { message: 'Unauthorized: api key user not found' }, new Headers(), 'https://console.jumpcloud.com/api/systemusers');
    expect(err).to.be.instanceOf(StallError);
    expect((err as StallError).reason).to.equal('InvalidCredentials');
    expect(err!.message).to.contain('the API key was rejected').and.contain('api key user not found');
  });

  it('points a multi-tenant administrator without orgId at the setting', () => {
    const err = classifyFor(undefined)(401, { message: 'Unauthorized: no organization selected' }, new Headers(), 'x');
    expect(err!.message).to.contain('spec.provider.jumpcloud.orgId');
  });

  it('turns a 403 into AccessDenied naming the permission the request needs', () => {
    const where = 'https://console.jumpcloud.com/api/v2/usergroups/g1/members';
    const err = classifyFor(undefined)(403, { message: 'Forbidden' }, new Headers(), where) as StallError;
    expect(err.reason).to.equal('AccessDenied');
    expect(err.missingPermission).to.equal('view access to User Groups');
    expect(err.message).to.contain(where).and.contain('403: Forbidden');
    expect(permissionFor('https://x/api/systemusers')).to.equal('view access to Users');
    expect(permissionFor('https://x/api/v2/applications/a1/usergroups')).to.equal('view access to SSO Applications');
  });

  it('says when a 403 is about the organization rather than a permission', () => {
    const err = classifyFor('abc')(403, { message: 'Forbidden: administrator has no access to this organization' }, new Headers(), 'x') as StallError;
    expect(err.reason).to.equal('AccessDenied');
    expect(err.message).to.contain('organization abc').and.contain('spec.provider.jumpcloud.orgId');
    expect(err.missingPermission).to.equal(undefined);
  });

  it('leaves other statuses to the default mapping', () => {
    expect(classifyFor('o')(429, {}, new Headers(), 'x')).to.equal(undefined);
    expect(classifyFor('o')(500, {}, new Headers(), 'x')).to.equal(undefined);
    expect(classifyFor('o')(404, {}, new Headers(), 'x')).to.equal(undefined);
  });
});

describe('JumpCloud console URL', () => {
  it('defaults to the US console and picks the EU one by region', () => {
    expect(consoleUrl({}).href).to.equal('https://console.jumpcloud.com/');
    expect(consoleUrl({ region: 'US' }).href).to.equal('https://console.jumpcloud.com/');
    expect(consoleUrl({ region: 'EU' }).href).to.equal('https://console.eu.jumpcloud.com/');
  });

  it('lets baseUrl override the region, tolerating a trailing /api', () => {
    expect(consoleUrl({ region: 'EU', baseUrl: 'https://proxy.example.com/jc/api/' }).href).to.equal('https://proxy.example.com/jc/');
    expect(consoleUrl({ baseUrl: 'http://127.0.0.1:8080' }, true).href).to.equal('http://127.0.0.1:8080/');
  });

  it('refuses plain HTTP unless loopback is allowed', () => {
    expect(() => consoleUrl({ baseUrl: 'http://127.0.0.1:8080' })).to.throw(StallError);
    expect(() => consoleUrl({ baseUrl: 'http://jumpcloud.internal' }, true)).to.throw(StallError, /https/);
  });
});
