import { expect } from 'chai';
import { TransientError } from '../../../src/errors.js';
import { apiBase, errorText } from '../../../src/providers/authentik/api.js';
import { isPerson, parseGroup, parsePage, parseUser, toDirectoryUser, type AuthentikPage } from '../../../src/providers/authentik/model.js';
import { readAllPages } from '../../../src/providers/authentik/paging.js';

const page = (results: unknown[], next: number, count: number, totalPages: number): AuthentikPage => ({ results, next, count, totalPages });
const item = (id: string) => ({ id });
const read = (pages: (AuthentikPage | undefined)[][]) => {
  let pass = 0;
  let requests = 0;
  const fetcher = async (n: number) => {
    if (n === 1 && requests++ > 0) pass++; // page 1 again: a new pass
    return pages[Math.min(pass, pages.length - 1)][n - 1];
  };
  return readAllPages(fetcher, { parse: (x) => x as { id: string }, id: (x) => x.id, what: 'GET /api/v3/core/users/' });
};

describe('authentik: endpoints', () => {
  it('puts the API under the server URL, keeping a path prefix', () => {
    expect(apiBase(new URL('https://authentik.example.com')).href).to.equal('https://authentik.example.com/api/v3/');
    expect(apiBase(new URL('https://proxy.example.com/authentik/')).href).to.equal('https://proxy.example.com/authentik/api/v3/');
  });
});

describe('authentik: wire shapes', () => {
  it('maps is_active to Active or Suspended, login to email else username, and leaves service accounts out', () => {
    const alice = parseUser({ pk: 7, username: 'alice', name: 'Alice Smith', email: 'a@x.com', is_active: true, type: 'internal' }, 'GET /users');
    expect(toDirectoryUser(alice)).to.deep.equal({ id: '7', login: 'a@x.com', email: 'a@x.com', displayName: 'Alice Smith', state: 'Active', idpStatus: 'active' });
    expect(toDirectoryUser(parseUser({ pk: 8, username: 'bob', name: '', email: '', is_active: false }, 'GET /users'))).to.include({
      login: 'bob',
      state: 'Suspended',
      displayName: undefined,
    });
    expect(isPerson(alice)).to.equal(true);
    expect(isPerson(parseUser({ pk: 9, username: 'ak-outpost', is_active: true, type: 'internal_service_account' }, 'x'))).to.equal(false);
    expect(isPerson(parseUser({ pk: 10, username: 'ci', is_active: true, type: 'service_account' }, 'x'))).to.equal(false);
    expect(isPerson(parseUser({ pk: 11, username: 'partner', is_active: true, type: 'external' }, 'x'))).to.equal(true);
  });

  it('reads nesting from "parents" (newer) or "parent" (older)', () => {
    expect(parseGroup({ pk: 'a', name: 'ops', parents: ['p1', 'p2', 'p1'], parent: 'ignored' }, 'x').parents).to.deep.equal(['p1', 'p2']);
    expect(parseGroup({ pk: 'a', name: 'ops', parent: 'p1' }, 'x').parents).to.deep.equal(['p1']);
    expect(parseGroup({ pk: 'a', name: 'ops', parent: null }, 'x').parents).to.deep.equal([]);
  });

  it('refuses what is not an authentik list or object instead of reading it as empty', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => parsePage([], 'GET /users'), /not a paginated list/],
      [() => parsePage({ pagination: { next: 0 }, results: [] }, 'GET /users'), /without next, count and total_pages/],
      [() => parseUser({ username: 'no-pk' }, 'GET /users'), /without pk or username/],
      [() => parseGroup({ pk: 'a', name: 'x', parents: 'p' }, 'GET /groups'), /"parents" that is not a list/],
    ];
    for (const [fn, message] of cases) expect(fn).to.throw(TransientError, message);
  });

  it('reads authentik error bodies', () => {
    expect(errorText({ detail: 'Token invalid/expired' })).to.equal('Token invalid/expired');
    expect(errorText({})).to.equal(undefined);
  });
});

describe('authentik: page/page_size reading', () => {
  it('follows next until it is 0', async () => {
    const items = await read([[page([item('1'), item('2')], 2, 3, 2), page([item('3')], 0, 3, 2)]]);
    expect(items.map((i) => i.id)).to.deep.equal(['1', '2', '3']);
  });

  it('reads again when count changes, a row repeats, or a page vanishes; gives up after three passes', async () => {
    const moved = [page([item('1'), item('2')], 2, 3, 2), page([item('2'), item('3')], 0, 4, 2)];
    const good = [page([item('1'), item('2')], 2, 3, 2), page([item('3')], 0, 3, 2)];
    expect((await read([moved, good])).length).to.equal(3);
    const repeated = [page([item('1'), item('2')], 2, 4, 2), page([item('2'), item('3')], 0, 4, 2)];
    expect((await read([repeated, good])).length).to.equal(3);
    const vanished = [page([item('1'), item('2')], 2, 3, 2), undefined];
    expect((await read([vanished, good])).length).to.equal(3);
    const short = [page([item('1'), item('2')], 0, 3, 1)];
    const err = await read([short]).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TransientError).with.property('message').that.match(/3 times in a row.*count said 3 but 2 rows/);
  });

  it('refuses a next that does not move forward', async () => {
    const err = await read([[page([item('1')], 1, 2, 2)]]).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TransientError).with.property('reason', 'MalformedResponse');
  });
});
