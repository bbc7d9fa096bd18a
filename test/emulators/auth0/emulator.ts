// An Auth0 tenant on 127.0.0.1: the token endpoint (client credentials for the Management API
// audience, with the client grant's scopes) and the Management API v2 reads idpsync makes: users
// (page/per_page with include_totals, the 1000-row cap, sort and the created_at range query),
// roles, a role's users and organizations and their members (offset paging capped at 1000 rows, or
// checkpoint paging with from/take/next), Auth0's error bodies, insufficient_scope 403s, and a
// rate-limit bucket reported in X-RateLimit-Limit/Remaining/Reset on every answer.
import { randomBytes } from 'node:crypto';
import { EmulatorBase, type EmulatorConnection, type EmulatorRequest, type EmulatorResponse, type RateLimitAnswer } from '../common.js';
import { DerivedFromList, IdIndex, LastResult, Resolution } from '../cache.js';
import type { DirectoryFixture, FixtureGroup, FixtureUser } from '../fixture.js';

export type Auth0Scope = 'read:users' | 'read:roles' | 'read:organizations' | 'read:organization_members';
export const ALL_SCOPES: Auth0Scope[] = ['read:users', 'read:roles', 'read:organizations', 'read:organization_members'];

export interface Auth0EmulatorOptions {
  /** Fixture groups served as organizations instead of roles. */
  organizations?: string[];
}

interface IssuedToken {
  scopes: Set<string>;
  expiresAt: number;
}

/** Auth0 pages offset queries only this far: page * per_page + per_page may not exceed it. */
export const OFFSET_CAP = 1000;
const EPOCH = Date.parse('2024-03-04T09:15:00.000Z');

export class Auth0Emulator extends EmulatorBase {
  readonly domain = 'idpsync-test.us.auth0.com';
  readonly clientId = `m2m${randomBytes(8).toString('hex')}`;
  readonly clientSecret = randomBytes(24).toString('base64url');
  /** Scopes of the application's client grant for the Management API. */
  scopes = new Set<string>(ALL_SCOPES);
  /** The application is authorized for the Management API at all (it has a client grant). */
  clientGrant = true;
  tokenLifetimeSeconds = 86_400;
  /** The Management API bucket: this many requests per window, then 429 until the window resets. */
  rateLimit = { limit: 50, windowMs: 1000 };
  /** Seconds until X-RateLimit-Reset on an injected 429. */
  resetSeconds = 1;
  /** When each user was created (ISO), fixed the first time the user is listed; tests may set their own. */
  readonly createdAt = new CreationTimes();
  /** Fixture group ids served as organizations. */
  organizationIds: Set<string>;
  /** Runs before each Management API request is answered: a test's chance to change the tenant mid-read. */
  onRequest?: (req: EmulatorRequest) => void | Promise<void>;
  private readonly tokens = new Map<string, IssuedToken>();
  private bucket = { used: 0, windowEndsAt: 0 };

  constructor(fixture: DirectoryFixture, options: Auth0EmulatorOptions = {}) {
    super(fixture);
    this.createdAt.beforeUse = () => this.giveOwedCreationTimes();
    this.organizationIds = new Set(options.organizations ?? []);
    this.route('POST', '/oauth/token', (req) => this.token(req));
    this.api('/users', ['read:users'], (req) => this.listUsers(req));
    this.api('/roles', ['read:roles'], (req) => this.listRoles(req));
    this.api('/roles/:id/users', ['read:roles', 'read:users'], (req) => this.listRoleUsers(req));
    this.api('/organizations', ['read:organizations'], (req) => this.listOrganizations(req));
    this.api('/organizations/:id/members', ['read:organization_members'], (req) => this.listOrganizationMembers(req));
  }

  get audience(): string {
    return `https://${this.domain}/api/v2/`;
  }

  connection(): EmulatorConnection {
    return { type: 'auth0', settings: { domain: this.domain, clientId: this.clientId, baseUrl: this.baseUrl }, secret: { clientSecret: this.clientSecret } };
  }

  /** Every access token issued so far stops working (the next API call answers 401). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  roleId(fixtureGroupId: string): string {
    return `rol_${fixtureGroupId}`;
  }

  organizationId(fixtureGroupId: string): string {
    return `org_${fixtureGroupId}`;
  }

  userId(fixtureUserId: string): string {
    return `auth0|${fixtureUserId}`;
  }

  protected rateLimitAnswer(): RateLimitAnswer {
    return {
      status: 429,
      headers: this.rateLimitHeaders(0, Math.ceil(Date.now() / 1000) + this.resetSeconds),
      body: { statusCode: 429, error: 'Too Many Requests', message: 'Global limit has been reached', errorCode: 'too_many_requests' },
    };
  }

  protected errorBody(status: number, message: string): unknown {
    return { statusCode: status, error: STATUS_TEXT[status] ?? 'Error', message };
  }

  private token(req: EmulatorRequest): EmulatorResponse {
    const params = req.json && typeof req.json === 'object' ? new URLSearchParams(req.json as Record<string, string>) : req.form;
    if (params.get('grant_type') !== 'client_credentials') {
      return { status: 400, body: { error: 'unsupported_grant_type', error_description: `Unsupported grant type: ${params.get('grant_type')}` } };
    }
    const [clientId, secret] = clientCredentials(req, params);
    if (clientId !== this.clientId || secret !== this.clientSecret) {
      return { status: 401, body: { error: 'access_denied', error_description: 'Unauthorized' } };
    }
    const audience = params.get('audience');
    if (audience !== this.audience) {
      return { status: 403, body: { error: 'access_denied', error_description: `Service not enabled within domain: ${audience ?? ''}` } };
    }
    if (!this.clientGrant) {
      return {
        status: 403,
        body: {
          error: 'access_denied',
          error_description: `Client is not authorized to access "${this.audience}". You need to create a "client-grant" associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants`,
        },
      };
    }
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, { scopes: new Set(this.scopes), expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000 });
    return { body: { access_token: token, scope: [...this.scopes].join(' '), expires_in: this.tokenLifetimeSeconds, token_type: 'Bearer' } };
  }

  /** A Management API endpoint: the bucket (429), the token (401), then every scope it needs (403). */
  private api(path: string, scopes: Auth0Scope[], handler: (req: EmulatorRequest) => EmulatorResponse): void {
    this.route('GET', `/api/v2${path}`, async (req) => {
      await this.onRequest?.(req);
      const now = Date.now();
      if (now >= this.bucket.windowEndsAt) this.bucket = { used: 0, windowEndsAt: now + this.rateLimit.windowMs };
      const reset = Math.ceil(this.bucket.windowEndsAt / 1000);
      if (this.bucket.used >= this.rateLimit.limit) {
        this.rateLimitAnswers++;
        return { ...this.rateLimitAnswer(), headers: this.rateLimitHeaders(0, reset) };
      }
      this.bucket.used++;
      const headers = this.rateLimitHeaders(this.rateLimit.limit - this.bucket.used, reset);
      const answer = this.authorised(req, scopes) ?? handler(req);
      return { ...answer, headers: { ...headers, ...answer.headers } };
    });
  }

  private authorised(req: EmulatorRequest, scopes: Auth0Scope[]): EmulatorResponse | undefined {
    const header = String(req.headers.authorization ?? '');
    const issued = header.startsWith('Bearer ') ? this.tokens.get(header.slice(7)) : undefined;
    if (!issued) return { status: 401, body: { statusCode: 401, error: 'Unauthorized', message: 'Invalid token', attributes: { error: 'Invalid token' } } };
    if (issued.expiresAt < Date.now()) {
      return { status: 401, body: { statusCode: 401, error: 'Unauthorized', message: 'Expired token received for JSON Web Token validation' } };
    }
    const missing = scopes.find((s) => !issued.scopes.has(s));
    if (missing) {
      return { status: 403, body: { statusCode: 403, error: 'Forbidden', message: `Insufficient scope, expected any of: ${missing}`, errorCode: 'insufficient_scope' } };
    }
    return undefined;
  }

  private rateLimitHeaders(remaining: number, reset: number): Record<string, string> {
    return { 'x-ratelimit-limit': String(this.rateLimit.limit), 'x-ratelimit-remaining': String(remaining), 'x-ratelimit-reset': String(reset) };
  }

  /** Users not deleted, each given a creation time the first time it is listed. */
  private liveUsers(): FixtureUser[] {
    this.creationTimesOwed = false;
    const live = this.live.get(this.directory.users);
    this.creationTimesGiven.get([live, this.createdAt.version], () => {
      for (const u of live) if (!this.createdAt.has(u.id)) this.createdAt.set(u.id, new Date(EPOCH + this.createdAt.size * 1000).toISOString());
    });
    return live;
  }

  private readonly live = new DerivedFromList<FixtureUser, FixtureUser[]>(['id', 'state'], (users) => users.filter((u) => u.state !== 'deleted'));
  private readonly creationTimesGiven = new LastResult<void>();

  /**
   * A member read lists users too, so it gives new users their creation times, but it shows none of
   * them: it only notes that it owes them, and they are given before anything reads or sets one.
   * Checking the whole directory on every member page was most of the cost of a large read. (A user
   * added and removed again before that would not use up a second.)
   */
  private creationTimesOwed = false;

  private giveOwedCreationTimes(): void {
    if (this.creationTimesOwed) this.liveUsers();
  }

  private listUsers(req: EmulatorRequest): EmulatorResponse {
    const query = req.url.searchParams;
    const live = this.liveUsers();
    const q = query.get('q');
    const since = q ? createdSince(q) : undefined;
    if (q && !since) return badRequest(`Query validation error: '${q}' is not a query this emulator understands`, 'invalid_query_string');
    const sort = query.get('sort');
    if (sort && !/^(created_at|user_id):-?1$/.test(sort)) return badRequest(`Query validation error: sort '${sort}' is not supported`, 'invalid_query_string');
    const sorted = this.sortedUsers(live, sort ?? 'user_id:1');
    const users = this.usersSince.get([sorted, q], () =>
      since ? sorted.filter((u) => (since.inclusive ? this.created(u) >= since.at : this.created(u) > since.at)) : sorted,
    );
    return this.offsetPage(query, users, 'users', (u) => this.userJson(u));
  }

  /**
   * Live users in a sort's order, kept while the users and their creation times are the same: each
   * page of a large read used to sort the whole directory again (filtered by q after the sort, which
   * keeps the order a filter before it would give).
   */
  private sortedUsers(live: FixtureUser[], sort: string): FixtureUser[] {
    const [field, order] = sort.split(':');
    const key = (u: FixtureUser) => (field === 'created_at' ? `${this.created(u)}|${this.userId(u.id)}` : this.userId(u.id));
    let cached = this.usersBySort.get(sort);
    if (!cached) this.usersBySort.set(sort, (cached = new LastResult()));
    return cached.get([live, this.createdAt.version], () => [...live].sort((a, b) => compare(key(a), key(b)) * (order === '-1' ? -1 : 1)));
  }

  private readonly usersBySort = new Map<string, LastResult<FixtureUser[]>>();
  private readonly usersSince = new LastResult<FixtureUser[]>();

  private listRoles(req: EmulatorRequest): EmulatorResponse {
    const roles = this.directory.groups.filter((g) => !this.organizationIds.has(g.id)).sort(byName);
    return this.offsetPage(req.url.searchParams, roles, 'roles', (g) => ({ id: this.roleId(g.id), name: g.name, description: g.description ?? '' }));
  }

  private listRoleUsers(req: EmulatorRequest): EmulatorResponse {
    const group = this.directory.groups.find((g) => !this.organizationIds.has(g.id) && this.roleId(g.id) === req.params.id);
    if (!group) return { status: 404, body: { statusCode: 404, error: 'Not Found', message: 'The role does not exist.', errorCode: 'inexistent_role' } };
    return this.memberList(req.url.searchParams, group, 'users');
  }

  private listOrganizations(req: EmulatorRequest): EmulatorResponse {
    const orgs = this.directory.groups.filter((g) => this.organizationIds.has(g.id));
    const json = (g: FixtureGroup) => ({ id: this.organizationId(g.id), name: slug(g.name), display_name: g.name });
    if (isCheckpoint(req.url.searchParams)) {
      const byId = orgs.sort((a, b) => compare(this.organizationId(a.id), this.organizationId(b.id)));
      return this.checkpointPage(req.url.searchParams, byId, 'organizations', (g) => this.organizationId(g.id), json);
    }
    return this.offsetPage(req.url.searchParams, orgs.sort(byName), 'organizations', json);
  }

  private listOrganizationMembers(req: EmulatorRequest): EmulatorResponse {
    const group = this.directory.groups.find((g) => this.organizationIds.has(g.id) && this.organizationId(g.id) === req.params.id);
    if (!group) return { status: 404, body: { statusCode: 404, error: 'Not Found', message: 'No organization found by that id', errorCode: 'inexistent_organization' } };
    return this.memberList(req.url.searchParams, group, 'members');
  }

  private memberList(query: URLSearchParams, group: FixtureGroup, key: string): EmulatorResponse {
    const members = this.membersOf(group);
    const json = (u: FixtureUser) => ({ user_id: this.userId(u.id), email: u.email, picture: 'https://s.gravatar.com/avatar/0.png', name: displayName(u) });
    if (isCheckpoint(query)) return this.checkpointPage(query, members, key, (u) => this.userId(u.id), json);
    return this.offsetPage(query, members, key, json);
  }

  /**
   * A group's live members by user_id (each once), kept per group while it lists the same ids and each
   * finds the same user in the same state: a read asks for one page after another of every group.
   */
  private membersOf(group: FixtureGroup): FixtureUser[] {
    const users = this.directory.users;
    const ids = [...new Set(group.members ?? [])];
    if (this.userIndex.duplicatesIn(users)) {
      // With an id held twice, the last live user holding it, as a map of live users by id says.
      const live = new Map(this.liveUsers().map((u) => [u.id, u]));
      return this.byUserId(ids.flatMap((id) => live.get(id) ?? []));
    }
    this.creationTimesOwed = true;
    const find = (id: string) => this.userIndex.find(users, id);
    const cached = this.resolvedMembers.get(group);
    if (cached?.resolution.stillFound(ids, find)) return cached.sorted;
    const resolution = new Resolution<FixtureUser>(ids, find, ['state']);
    const sorted = this.byUserId(resolution.found.filter((u): u is FixtureUser => u !== undefined && u.state !== 'deleted'));
    this.resolvedMembers.set(group, { resolution, sorted });
    return sorted;
  }

  private byUserId(users: FixtureUser[]): FixtureUser[] {
    return users.sort((a, b) => compare(this.userId(a.id), this.userId(b.id)));
  }

  private readonly userIndex = new IdIndex<FixtureUser>();
  private readonly resolvedMembers = new WeakMap<FixtureGroup, { resolution: Resolution<FixtureUser>; sorted: FixtureUser[] }>();

  /** page/per_page (default 50, at most 100), the cap on how far they reach, and include_totals. */
  private offsetPage<T>(query: URLSearchParams, items: T[], key: string, json: (item: T) => unknown): EmulatorResponse {
    const page = intParam(query, 'page', 0);
    const perPage = intParam(query, 'per_page', 50);
    if (page === undefined || perPage === undefined || perPage < 1 || perPage > 100) {
      return badRequest('Query validation error: page must be 0 or more and per_page between 1 and 100', 'invalid_query_string');
    }
    if (page * perPage + perPage > OFFSET_CAP) {
      return badRequest(
        `Requesting page ${page} exceeds the allowed maximum of ${OFFSET_CAP} records. To fetch results beyond ${OFFSET_CAP}, use the checkpoint pagination method.`,
        'invalid_paging',
      );
    }
    const rows = items.slice(page * perPage, page * perPage + perPage).map(json);
    if (query.get('include_totals') !== 'true') return { body: rows };
    return { body: { start: page * perPage, limit: perPage, length: rows.length, total: items.length, [key]: rows } };
  }

  /** from/take: rows after the checkpoint, of rows already in id order; `next` only while more remain. */
  private checkpointPage<T>(query: URLSearchParams, sorted: T[], key: string, id: (item: T) => string, json: (item: T) => unknown): EmulatorResponse {
    const take = intParam(query, 'take', 50);
    if (take === undefined || take < 1 || take > 100) return badRequest('Query validation error: take must be between 1 and 100', 'invalid_query_string');
    const from = query.get('from');
    let after: string | undefined;
    if (from) {
      after = Buffer.from(from, 'base64url').toString('utf8');
      if (!after.startsWith('cp:')) return badRequest('Query validation error: invalid from', 'invalid_query_string');
      after = after.slice(3);
    }
    const rest = after === undefined ? sorted : sorted.slice(firstAfter(sorted, id, after));
    const rows = rest.slice(0, take);
    const next = rest.length > take ? Buffer.from(`cp:${id(rows[rows.length - 1])}`).toString('base64url') : undefined;
    return { body: { [key]: rows.map(json), ...(next ? { next } : {}) } };
  }

  private created(u: FixtureUser): string {
    return this.createdAt.get(u.id)!;
  }

  private userJson(u: FixtureUser): Record<string, unknown> {
    const blocked = u.state === 'suspended' || u.state === 'staged';
    return {
      user_id: this.userId(u.id),
      email: u.email,
      email_verified: true,
      name: displayName(u),
      nickname: u.login.split('@')[0],
      ...(u.firstName ? { given_name: u.firstName } : {}),
      ...(u.lastName ? { family_name: u.lastName } : {}),
      picture: 'https://s.gravatar.com/avatar/0.png',
      created_at: this.created(u),
      updated_at: this.created(u),
      identities: [{ connection: 'Username-Password-Authentication', provider: 'auth0', user_id: u.id, isSocial: false }],
      // Auth0 leaves "blocked" out until a user is blocked; a brute-force lockout is kept apart and does not set it.
      ...(blocked ? { blocked: true } : {}),
      logins_count: 3,
    };
  }
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

function badRequest(message: string, errorCode: string): EmulatorResponse {
  return { status: 400, body: { statusCode: 400, error: 'Bad Request', message, errorCode } };
}

/** `created_at:["2024-03-04T09:15:00.000Z" TO *]` (or `{…` for an exclusive start): the one query idpsync sends. */
function createdSince(q: string): { at: string; inclusive: boolean } | undefined {
  const match = /^created_at:([[{])"?([^"\s]+)"? TO \*\]$/.exec(q.trim());
  if (!match || Number.isNaN(Date.parse(match[2]))) return undefined;
  return { at: new Date(match[2]).toISOString(), inclusive: match[1] === '[' };
}

/** The index of the first item whose id is after `after`, in a list ordered by id. */
function firstAfter<T>(sorted: T[], id: (item: T) => string, after: string): number {
  let [low, high] = [0, sorted.length];
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (id(sorted[mid]) > after) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * When each user was created: a Map that counts its changes, so what is sorted by it can tell it
 * changed, and that runs `beforeUse` before any use, so that times owed are given before anyone sees them.
 */
class CreationTimes extends Map<string, string> {
  version = 0;
  beforeUse?: () => void;

  override get size(): number {
    this.beforeUse?.();
    return super.size;
  }

  override get(key: string): string | undefined {
    this.beforeUse?.();
    return super.get(key);
  }

  override has(key: string): boolean {
    this.beforeUse?.();
    return super.has(key);
  }

  override set(key: string, value: string): this {
    this.beforeUse?.();
    this.version++;
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    this.beforeUse?.();
    this.version++;
    return super.delete(key);
  }

  override clear(): void {
    this.beforeUse?.();
    this.version++;
    super.clear();
  }

  override forEach(callback: (value: string, key: string, map: Map<string, string>) => void, thisArg?: unknown): void {
    this.beforeUse?.();
    super.forEach(callback, thisArg);
  }

  override entries(): MapIterator<[string, string]> {
    this.beforeUse?.();
    return super.entries();
  }

  override keys(): MapIterator<string> {
    this.beforeUse?.();
    return super.keys();
  }

  override values(): MapIterator<string> {
    this.beforeUse?.();
    return super.values();
  }

  override [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }
}

function isCheckpoint(query: URLSearchParams): boolean {
  return query.has('take') || query.has('from');
}

function intParam(query: URLSearchParams, name: string, fallback: number): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

function clientCredentials(req: EmulatorRequest, params: URLSearchParams): [string | undefined, string | undefined] {
  const basic = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ''));
  if (basic) {
    const [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
    return [decodeURIComponent(id), decodeURIComponent(secret ?? '')];
  }
  return [params.get('client_id') ?? undefined, params.get('client_secret') ?? undefined];
}

function displayName(u: FixtureUser): string {
  return [u.firstName, u.lastName].filter(Boolean).join(' ') || u.login;
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byName = (a: FixtureGroup, b: FixtureGroup) => compare(a.name, b.name);
