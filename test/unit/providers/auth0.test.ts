import { expect } from 'chai';
import { StallError, TransientError } from '../../../src/errors.js';
import { endpoints } from '../../../src/providers/auth0/auth.js';
import { parseCheckpointPage, parseOrganization, parseTotalsPage, parseUser, toDirectoryUser, type Auth0User } from '../../../src/providers/auth0/model.js';
import { readCheckpointList, readTotalsList, readUsers } from '../../../src/providers/auth0/paging.js';
import { classify, errorText, expectedScopes, pauseFromHeaders } from '../../../src/providers/auth0/responses.js';
import { checkSettings } from '../../../src/providers/registry.js';
import { Auth0Settings } from '../../../src/api/v1alpha1/directorysync.js';

const failure = (p: Promise<unknown>) => p.then(() => expect.fail('expected a failure'), (e: unknown) => e as Error);

describe('Auth0: endpoints and settings', () => {
  it('sends requests to baseUrl (a custom domain) but keeps the audience on the tenant domain', () => {
    const urls = endpoints(new URL('https://login.example.com/'), 'acme.eu.auth0.com');
    expect(urls.tokenUrl.href).to.equal('https://login.example.com/oauth/token');
    expect(urls.apiBase.href).to.equal('https://login.example.com/api/v2/');
    expect(urls.audience).to.equal('https://acme.eu.auth0.com/api/v2/');
    expect(endpoints(new URL('https://acme.eu.auth0.com'), 'acme.eu.auth0.com', 'urn:private').audience).to.equal('urn:private');
  });

  it('defaults groupsFrom to roles and refuses an unknown source', () => {
    expect(checkSettings('auth0', Auth0Settings, { domain: 'a.auth0.com', clientId: 'c' }).groupsFrom).to.deep.equal(['roles']);
    expect(() => checkSettings('auth0', Auth0Settings, { domain: 'a.auth0.com', clientId: 'c', groupsFrom: ['groups'] })).to.throw(StallError, /groupsFrom/);
  });
});

describe('Auth0: wire shapes', () => {
  const user = (extra: Record<string, unknown>) => parseUser({ user_id: 'auth0|1', email: 'a@x.com', created_at: '2024-01-01T00:00:00.000Z', ...extra }, 'GET /users');

  it('reads an absent or false "blocked" as not blocked, and true as Suspended', () => {
    expect(toDirectoryUser(user({}))).to.include({ state: 'Active', idpStatus: 'active', login: 'a@x.com' });
    expect(toDirectoryUser(user({ blocked: false }))).to.include({ state: 'Active' });
    expect(toDirectoryUser(user({ blocked: true }))).to.include({ state: 'Suspended', idpStatus: 'blocked' });
    expect(() => user({ blocked: 'yes' })).to.throw(TransientError, /blocked/);
  });

  it('falls back from email to username to user_id for the login, and builds a display name', () => {
    expect(toDirectoryUser(user({ email: undefined, username: 'al' }))).to.include({ login: 'al' });
    expect(toDirectoryUser(user({ email: undefined }))).to.include({ login: 'auth0|1' });
    expect(toDirectoryUser(user({ given_name: 'Al', family_name: 'Smith' }))).to.include({ displayName: 'Al Smith' });
  });

  it('refuses users without user_id or created_at, and lists without their keys', () => {
    expect(() => parseUser({ email: 'a@x.com', created_at: '2024-01-01' }, 'GET /users')).to.throw(TransientError);
    expect(() => user({ created_at: 'yesterday' })).to.throw(TransientError, /created_at/);
    expect(() => parseTotalsPage([{ user_id: 'x' }], 'users', 'GET /users')).to.throw(TransientError, /totals/);
    expect(() => parseCheckpointPage({ members: [], next: 3 }, 'members', 'GET /m')).to.throw(TransientError, /next/);
    expect(parseCheckpointPage({ members: [] }, 'members', 'GET /m')).to.deep.equal({ items: [], next: undefined });
  });

  it('names an organization by its display name when it has one', () => {
    expect(parseOrganization({ id: 'org_1', name: 'acme', display_name: 'Acme Inc.' }, 'GET /o').name).to.equal('Acme Inc.');
    expect(parseOrganization({ id: 'org_1', name: 'acme' }, 'GET /o').name).to.equal('acme');
  });
});

describe('Auth0: rate limits and errors', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const headers = (remaining: number, resetIn: number) =>
    new Headers({ 'x-ratelimit-limit': '50', 'x-ratelimit-remaining': String(remaining), 'x-ratelimit-reset': String(now / 1000 + resetIn) });

  it('pauses until X-RateLimit-Reset (Unix seconds) once the bucket runs low, and not before', () => {
    expect(pauseFromHeaders(headers(30, 2), now, 4)).to.equal(undefined);
    expect(pauseFromHeaders(headers(4, 2), now, 4)).to.equal(2000);
    expect(pauseFromHeaders(headers(0, 100_000), now, 4)).to.equal(5 * 60_000);
    expect(pauseFromHeaders(new Headers(), now)).to.equal(undefined);
  });

  it('reads a 429 as RateLimited until the reset, preferring Retry-After when sent', () => {
    const err = classify(429, { message: 'Global limit has been reached', errorCode: 'too_many_requests' }, headers(0, 3), 'GET /api/v2/users', now) as TransientError;
    expect(err).to.be.instanceOf(TransientError).with.property('reason', 'RateLimited');
    expect(err.retryAfterMs).to.equal(3000);
    expect(err.message).to.include('Global limit has been reached');
    const withRetryAfter = new Headers(headers(0, 3));
    withRetryAfter.set('retry-after', '7');
    expect((classify(429, {}, withRetryAfter, 'x', now) as TransientError).retryAfterMs).to.equal(7000);
    expect(classify(500, {}, headers(0, 3), 'x', now)).to.equal(undefined);
  });

  it('reads the scopes a 403 names, and Auth0 error bodies', () => {
    expect(expectedScopes({ message: 'Insufficient scope, expected any of: read:users,read:current_user' })).to.deep.equal(['read:users', 'read:current_user']);
    expect(expectedScopes({ message: 'Forbidden' })).to.deep.equal([]);
    expect(errorText({ statusCode: 403, error: 'Forbidden', message: 'Insufficient scope, expected any of: read:roles', errorCode: 'insufficient_scope' })).to.equal(
      'Insufficient scope, expected any of: read:roles (insufficient_scope)',
    );
    expect(errorText({ error: 'access_denied', error_description: 'Unauthorized' })).to.equal('Unauthorized');
  });
});

describe('Auth0: paging', () => {
  const u = (i: number, createdAt: string): Auth0User => ({ userId: `u${i}`, createdAt, blocked: false });

  it('follows checkpoints to the end and refuses a checkpoint that loops', async () => {
    const pages: Record<string, { items: unknown[]; next?: string }> = { start: { items: ['a', 'b'], next: 'p2' }, p2: { items: ['c'], next: 'p3' }, p3: { items: [] } };
    expect(await readCheckpointList(async (from) => pages[from ?? 'start'], { parse: String, id: String, what: 'GET /x' })).to.deep.equal(['a', 'b', 'c']);
    const looping = await failure(readCheckpointList(async () => ({ items: [`r${Math.random()}`], next: 'same' }), { parse: String, id: String, what: 'GET /x' }));
    expect(looping).to.be.instanceOf(TransientError).with.property('reason', 'MalformedResponse');
  });

  it('refuses to read part of an offset-only list longer than Auth0 pages through', async () => {
    const all = Array.from({ length: 1200 }, (_, i) => `r${i}`);
    const err = await failure(readTotalsList(async (page) => ({ total: all.length, items: all.slice(page * 100, page * 100 + 100) }), { perPage: 100, parse: String, id: String, what: 'GET /api/v2/roles' }));
    expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidConfiguration');
    expect(err.message).to.include('1200 rows');
  });

  it('reads users in created_at windows, counting the users of a window\'s last moment once', async () => {
    // 2,050 users, ten created each second.
    const users = Array.from({ length: 2050 }, (_, i) => u(i, new Date(Date.UTC(2024, 0, 1) + Math.floor(i / 10) * 1000).toISOString()));
    const queries: (string | undefined)[] = [];
    const read = await readUsers(
      async (page, since) => {
        if (page === 0) queries.push(since);
        const matching = since === undefined ? users : users.filter((x) => x.createdAt >= since);
        if (page * 100 + 100 > 1000) throw new Error('past the cap');
        return { total: matching.length, items: matching.slice(page * 100, page * 100 + 100).map((x) => ({ ...x })) };
      },
      { perPage: 100, parse: (x) => x as Auth0User, what: 'GET /api/v2/users' },
    );
    expect(read.map((x) => x.userId)).to.deep.equal(users.map((x) => x.userId));
    expect(queries).to.deep.equal([undefined, users[999].createdAt, users[1989].createdAt]);
  });
});
