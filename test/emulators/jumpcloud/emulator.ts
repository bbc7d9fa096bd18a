// A JumpCloud console API on loopback: v1 system users and v2 user groups, members and application
// bindings, in JumpCloud's own JSON, with its x-api-key / x-org-id checks and its limit of 100 rows.
import { EmulatorBase, type EmulatorConnection, type EmulatorRequest, type EmulatorResponse, type Handler, type RateLimitAnswer } from '../common.js';
import { DerivedFromList, IdIndex } from '../cache.js';
import type { FixtureGroup, FixtureUser } from '../fixture.js';
import type { DirectoryFixture } from '../fixture.js';

export const JUMPCLOUD_MAX_LIMIT = 100;
/** What JumpCloud uses when a request names no limit. */
const DEFAULT_LIMIT = 10;

export interface JumpCloudEmulatorOptions {
  /** The key belongs to a multi-tenant administrator: every request must name an organization in x-org-id. */
  multiTenant?: boolean;
  /** Sent as Retry-After with a 429. JumpCloud documents no such header, so by default there is none. */
  retryAfterSeconds?: number;
}

class BadRequest extends Error {}

export class JumpCloudEmulator extends EmulatorBase {
  readonly apiKey = 'jc-emulator-key-7d41c0a9e3b2';
  /** The organization the fixture lives in (a 24-hex ObjectID, as JumpCloud's are). */
  readonly orgId = '5f8e2a1b9c0d3e4f5a6b7c8d';
  /** Another organization the multi-tenant administrator manages, holding nothing. */
  readonly otherOrgId = '6a1b2c3d4e5f60718293a4b5';
  readonly multiTenant: boolean;
  retryAfterSeconds?: number;
  /** Runs before each API request is answered: a test's chance to change the directory mid-listing. */
  onRequest?: (req: EmulatorRequest) => void | Promise<void>;

  constructor(fixture: DirectoryFixture, options: JumpCloudEmulatorOptions = {}) {
    super(fixture);
    this.multiTenant = options.multiTenant ?? false;
    this.retryAfterSeconds = options.retryAfterSeconds;

    this.route('GET', '/api/systemusers', this.api((req) => this.listSystemUsers(req)));
    this.route('GET', '/api/v2/usergroups', this.api((req) => this.listUserGroups(req)));
    this.route('GET', '/api/v2/usergroups/:groupId/members', this.api((req) => this.listMembers(req)));
    this.route('GET', '/api/v2/applications/:appId/users', this.api((req) => this.applicationUsers(req)));
    this.route('GET', '/api/v2/applications/:appId/usergroups', this.api((req) => this.applicationGroups(req)));
  }

  connection(): EmulatorConnection {
    return {
      type: 'jumpcloud',
      settings: { region: 'US', baseUrl: this.baseUrl, ...(this.multiTenant ? { orgId: this.orgId } : {}) },
      secret: { apiKey: this.apiKey },
    };
  }

  protected rateLimitAnswer(): RateLimitAnswer {
    return {
      status: 429,
      headers: this.retryAfterSeconds !== undefined ? { 'retry-after': String(this.retryAfterSeconds) } : {},
      body: { message: 'Too Many Requests' },
    };
  }

  protected errorBody(_status: number, message: string): unknown {
    return { message };
  }

  /** Authentication, organization, then the handler; a BadRequest becomes JumpCloud's 400. */
  private api(handler: (req: EmulatorRequest) => EmulatorResponse): Handler {
    return async (req) => {
      await this.onRequest?.(req);
      const denied = this.authenticate(req);
      if (denied) return denied;
      try {
        return handler(req);
      } catch (err) {
        if (err instanceof BadRequest) return { status: 400, body: { message: `Bad Request: ${err.message}` } };
        throw err;
      }
    };
  }

  private authenticate(req: EmulatorRequest): EmulatorResponse | undefined {
    if (req.headers['x-api-key'] !== this.apiKey) {
      return { status: 401, body: { error: 'Unauthorized', message: 'Unauthorized: api key user not found' } };
    }
    const orgHeader = req.headers['x-org-id'];
    const org = Array.isArray(orgHeader) ? orgHeader[0] : orgHeader;
    if (!org) {
      return this.multiTenant ? { status: 401, body: { message: 'Unauthorized: no organization selected' } } : undefined;
    }
    if (!/^[0-9a-f]{24}$/.test(org)) return { status: 400, body: { message: 'Bad Request: malformed x-org-id' } };
    const permitted = this.multiTenant ? [this.orgId, this.otherOrgId] : [this.orgId];
    if (!permitted.includes(org)) {
      return { status: 403, body: { error: 'Forbidden', message: 'Forbidden: administrator has no access to this organization' } };
    }
    return undefined;
  }

  /** Requests naming the other organization see an empty one. */
  private inFixtureOrg(req: EmulatorRequest): boolean {
    const org = req.headers['x-org-id'];
    return !org || org === this.orgId;
  }

  private liveUsers(req: EmulatorRequest): FixtureUser[] {
    return this.inFixtureOrg(req) ? this.directory.users.filter((u) => u.state !== 'deleted') : [];
  }

  private groups(req: EmulatorRequest): FixtureGroup[] {
    return this.inFixtureOrg(req) ? this.directory.groups : [];
  }

  private listSystemUsers(req: EmulatorRequest): EmulatorResponse {
    const { limit, skip } = paging(req.url);
    const users = this.inFixtureOrg(req) ? this.sortedUsers(req.url.searchParams.get('sort')).get(this.directory.users) : [];
    return { body: { totalCount: users.length, results: users.slice(skip, skip + limit).map((u) => this.systemUser(u)) } };
  }

  /**
   * Live users in the order a sort asks for, kept while the users keep their ids, names and states:
   * sorting the whole directory for each page made a large read quadratic.
   */
  private sortedUsers(sort: string | null): DerivedFromList<FixtureUser, FixtureUser[]> {
    const key = sort ?? '';
    let sorted = this.usersBySort.get(key);
    if (!sorted) {
      sorted = new DerivedFromList<FixtureUser, FixtureUser[]>(['id', 'login', 'email', 'state'], (users) =>
        sortBy(
          users.filter((u) => u.state !== 'deleted'),
          sort,
          { _id: (u) => u.id, username: (u) => username(u), email: (u) => u.email ?? '' },
        ),
      );
      this.usersBySort.set(key, sorted);
    }
    return sorted;
  }

  private readonly usersBySort = new Map<string, DerivedFromList<FixtureUser, FixtureUser[]>>();

  private listUserGroups(req: EmulatorRequest): EmulatorResponse {
    const { limit, skip } = paging(req.url);
    const groups = this.inFixtureOrg(req) ? this.sortedGroups(req.url.searchParams.get('sort')).get(this.directory.groups) : [];
    return { body: groups.slice(skip, skip + limit).map(userGroup) };
  }

  private sortedGroups(sort: string | null): DerivedFromList<FixtureGroup, FixtureGroup[]> {
    const key = sort ?? '';
    let sorted = this.groupsBySort.get(key);
    if (!sorted) {
      sorted = new DerivedFromList<FixtureGroup, FixtureGroup[]>(['id', 'name'], (groups) => sortBy([...groups], sort, { _id: (g) => g.id, id: (g) => g.id, name: (g) => g.name }));
      this.groupsBySort.set(key, sorted);
    }
    return sorted;
  }

  private readonly groupsBySort = new Map<string, DerivedFromList<FixtureGroup, FixtureGroup[]>>();

  private listMembers(req: EmulatorRequest): EmulatorResponse {
    const { limit, skip } = paging(req.url);
    const group = this.inFixtureOrg(req) ? this.groupIndex.find(this.directory.groups, req.params.groupId) : undefined;
    if (!group) return { status: 404, body: { message: 'Not Found' } };
    // JumpCloud user groups hold users only: the fixture's nested groups are not JumpCloud's to show.
    const members = (group.members ?? []).filter((id) => this.isLiveUser(id));
    return { body: members.slice(skip, skip + limit).map((id) => connection(id, 'user')) };
  }

  /** Looked up by id rather than through a set of every live user, which cost each member page the whole directory. */
  private isLiveUser(id: string): boolean {
    const users = this.directory.users;
    if (this.userIndex.duplicatesIn(users)) return users.some((u) => u.id === id && u.state !== 'deleted');
    const user = this.userIndex.find(users, id);
    return user !== undefined && user.state !== 'deleted';
  }

  private readonly userIndex = new IdIndex<FixtureUser>();
  private readonly groupIndex = new IdIndex<FixtureGroup>();

  private applicationUsers(req: EmulatorRequest): EmulatorResponse {
    const { limit, skip } = paging(req.url);
    const app = this.app(req);
    if (!app) return { status: 404, body: { message: 'Not Found' } };
    const live = new Set(this.liveUsers(req).map((u) => u.id));
    const paths = new Map<string, object[][]>();
    const reach = (userId: string, path: object[]) => {
      if (live.has(userId)) paths.set(userId, [...(paths.get(userId) ?? []), path]);
    };
    for (const userId of app.users ?? []) reach(userId, [connection(userId, 'user')]);
    for (const groupId of app.groups ?? []) {
      const group = this.groups(req).find((g) => g.id === groupId);
      for (const userId of group?.members ?? []) reach(userId, [connection(groupId, 'user_group'), connection(userId, 'user')]);
    }
    const bound = [...paths.keys()].sort();
    return { body: bound.slice(skip, skip + limit).map((id) => ({ id, type: 'user', compiledAttributes: {}, paths: paths.get(id) })) };
  }

  private applicationGroups(req: EmulatorRequest): EmulatorResponse {
    const { limit, skip } = paging(req.url);
    const app = this.app(req);
    if (!app) return { status: 404, body: { message: 'Not Found' } };
    const existing = new Set(this.groups(req).map((g) => g.id));
    const bound = (app.groups ?? []).filter((id) => existing.has(id)).sort();
    return {
      body: bound.slice(skip, skip + limit).map((id) => ({ id, type: 'user_group', compiledAttributes: {}, paths: [[connection(id, 'user_group')]] })),
    };
  }

  private app(req: EmulatorRequest) {
    return this.inFixtureOrg(req) ? this.directory.apps?.find((a) => a.id === req.params.appId) : undefined;
  }

  private systemUser(u: FixtureUser): Record<string, unknown> {
    const state = u.state ?? 'active';
    return {
      _id: u.id,
      username: username(u),
      email: u.email ?? '',
      firstname: u.firstName ?? '',
      lastname: u.lastName ?? '',
      displayname: '',
      activated: state !== 'staged',
      suspended: state === 'suspended',
      account_locked: state === 'locked',
      state: state === 'staged' ? 'STAGED' : state === 'suspended' ? 'SUSPENDED' : 'ACTIVATED',
      created: '2024-03-04T10:15:00.000Z',
      organization: this.orgId,
      externally_managed: false,
      mfa: { configured: false, exclusion: false },
      password_never_expires: false,
      sudo: false,
      attributes: [],
    };
  }
}

function username(u: FixtureUser): string {
  return u.login.split('@')[0];
}

function userGroup(g: FixtureGroup) {
  return {
    id: g.id,
    name: g.name,
    type: 'user_group',
    description: g.description ?? '',
    email: '',
    attributes: {},
    membershipMethod: 'STATIC',
  };
}

function connection(id: string, type: 'user' | 'user_group') {
  return { attributes: null, to: { attributes: null, id, type } };
}

/** limit and skip as JumpCloud checks them: whole numbers, limit at most 100. */
function paging(url: URL): { limit: number; skip: number } {
  const limit = intParam(url, 'limit', DEFAULT_LIMIT);
  if (limit > JUMPCLOUD_MAX_LIMIT) throw new BadRequest(`request parameter "limit" exceeds maximum value of ${JUMPCLOUD_MAX_LIMIT}`);
  if (limit < 1) throw new BadRequest('request parameter "limit" must be at least 1');
  return { limit, skip: intParam(url, 'skip', 0) };
}

function intParam(url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new BadRequest(`request parameter "${name}" must be a non-negative integer`);
  return value;
}

/** `sort=field` or `sort=-field`; without it, the order the directory holds them in. */
function sortBy<T>(items: T[], sort: string | null, keys: Record<string, (item: T) => string>): T[] {
  if (!sort) return [...items];
  const descending = sort.startsWith('-');
  const key = keys[descending ? sort.slice(1) : sort];
  if (!key) throw new BadRequest(`cannot sort by "${sort}"`);
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return descending ? sorted.reverse() : sorted;
}
