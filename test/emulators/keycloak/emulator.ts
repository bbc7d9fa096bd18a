// A Keycloak realm on 127.0.0.1: the realm's token endpoint (client credentials for a confidential
// client with a service account), and the Admin REST API reads idpsync makes: users, top-level
// groups, /children (Keycloak 23 and later) or the whole tree embedded (before 23), direct members,
// first/max paging with bare arrays, and Keycloak's 401/403/404 answers.
import { randomBytes } from 'node:crypto';
import { EmulatorBase, type EmulatorConnection, type EmulatorRequest, type EmulatorResponse, type RateLimitAnswer } from '../common.js';
import { DerivedFromList, IdIndex, Resolution } from '../cache.js';
import type { DirectoryFixture, FixtureGroup, FixtureUser } from '../fixture.js';

export type RealmManagementRole = 'view-users' | 'query-groups';

export interface KeycloakEmulatorOptions {
  /** Before Keycloak 23: GET /groups embeds the whole tree in subGroups, without subGroupCount, and there is no /children. */
  legacyGroupTree?: boolean;
}

interface IssuedToken {
  roles: Set<RealmManagementRole>;
  expiresAt: number;
}

/** Defaults Keycloak applies when a request names no max. */
const DEFAULT_MAX = { users: 100, groups: 100, children: 10, members: 100 } as const;

export class KeycloakEmulator extends EmulatorBase {
  readonly realm = 'corp';
  readonly clientId = 'idpsync';
  readonly clientSecret = `kc-${randomBytes(12).toString('hex')}`;
  /** realm-management roles held by the client's service account. */
  roles = new Set<RealmManagementRole>(['view-users', 'query-groups']);
  /** The client has "Service accounts roles" turned on. */
  serviceAccountsEnabled = true;
  /** Sent as Retry-After with an injected 429 (a reverse proxy in front of Keycloak); none by default. */
  retryAfterSeconds?: number;
  tokenLifetimeSeconds = 300;
  readonly legacyGroupTree: boolean;
  /** Runs before each admin API request is answered: a test's chance to change the realm mid-read. */
  onRequest?: (req: EmulatorRequest) => void | Promise<void>;
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(fixture: DirectoryFixture, options: KeycloakEmulatorOptions = {}) {
    super(fixture);
    this.legacyGroupTree = options.legacyGroupTree ?? false;
    this.route('POST', '/realms/:realm/protocol/openid-connect/token', (req) => this.token(req));
    this.admin('/users', 'view-users', (req) => this.listUsers(req));
    this.admin('/users/count', 'view-users', () => ({ body: this.liveUsers().length }));
    this.admin('/groups', 'query-groups', (req) => this.listTopLevel(req));
    if (!this.legacyGroupTree) this.admin('/groups/:groupId/children', 'view-users', (req) => this.listChildren(req));
    this.admin('/groups/:groupId/members', 'view-users', (req) => this.listMembers(req));
  }

  get tokenUrl(): string {
    return `${this.baseUrl}/realms/${this.realm}/protocol/openid-connect/token`;
  }

  connection(): EmulatorConnection {
    return { type: 'keycloak', settings: { baseUrl: this.baseUrl, realm: this.realm, clientId: this.clientId }, secret: { clientSecret: this.clientSecret } };
  }

  override expireTokens(): boolean {
    this.revokeTokens();
    return true;
  }

  /** Every access token issued so far stops working (the next admin call answers 401). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  protected rateLimitAnswer(): RateLimitAnswer {
    return {
      status: 429,
      headers: this.retryAfterSeconds !== undefined ? { 'retry-after': String(this.retryAfterSeconds) } : {},
      body: { error: 'Too Many Requests' },
    };
  }

  protected errorBody(status: number, message: string): unknown {
    return status >= 500 ? { error: 'unknown_error', error_description: message } : { error: message };
  }

  private token(req: EmulatorRequest): EmulatorResponse {
    if (req.params.realm !== this.realm) return { status: 404, body: { error: 'Realm does not exist' } };
    if (req.form.get('grant_type') !== 'client_credentials') {
      return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' } };
    }
    const [clientId, secret] = clientCredentials(req);
    if (clientId !== this.clientId || secret !== this.clientSecret) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' } };
    }
    if (!this.serviceAccountsEnabled) {
      return { status: 401, body: { error: 'unauthorized_client', error_description: 'Client not enabled to retrieve service account' } };
    }
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, { roles: new Set(this.roles), expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000 });
    return {
      body: {
        access_token: token,
        expires_in: this.tokenLifetimeSeconds,
        refresh_expires_in: 0,
        token_type: 'Bearer',
        'not-before-policy': 0,
        scope: 'profile email',
      },
    };
  }

  /** An admin endpoint: realm, bearer token (401), then the role it needs (403). */
  private admin(path: string, role: RealmManagementRole, handler: (req: EmulatorRequest) => EmulatorResponse): void {
    this.route('GET', `/admin/realms/:realm${path}`, async (req) => {
      await this.onRequest?.(req);
      const header = String(req.headers.authorization ?? '');
      const issued = header.startsWith('Bearer ') ? this.tokens.get(header.slice(7)) : undefined;
      if (!issued || issued.expiresAt < Date.now()) return { status: 401, body: { error: 'HTTP 401 Unauthorized' } };
      if (req.params.realm !== this.realm) return { status: 404, body: { error: 'Realm not found.' } };
      // view-users also lets a service account list groups, as in Keycloak's own permission checks.
      const allowed = issued.roles.has(role) || (role === 'query-groups' && issued.roles.has('view-users'));
      if (!allowed) return { status: 403, body: { error: 'HTTP 403 Forbidden' } };
      return handler(req);
    });
  }

  private liveUsers(): FixtureUser[] {
    return this.liveUsersByUsername.get(this.directory.users);
  }

  private readonly liveUsersByUsername = new DerivedFromList<FixtureUser, FixtureUser[]>(['login', 'state'], (users) =>
    users.filter((u) => u.state !== 'deleted').sort(byUsername),
  );

  private listUsers(req: EmulatorRequest): EmulatorResponse {
    return { body: page(req.url, this.liveUsers(), DEFAULT_MAX.users).map((u) => userJson(u)) };
  }

  private listTopLevel(req: EmulatorRequest): EmulatorResponse {
    const tree = this.tree();
    return { body: page(req.url, tree.topLevel(), DEFAULT_MAX.groups).map((g) => this.groupJson(tree, g, '')) };
  }

  private listChildren(req: EmulatorRequest): EmulatorResponse {
    const tree = this.tree();
    const group = tree.group(req.params.groupId);
    if (!group) return { status: 404, body: { error: 'Could not find group by id' } };
    return { body: page(req.url, tree.children(group), DEFAULT_MAX.children).map((g) => this.groupJson(tree, g, tree.path(group))) };
  }

  private listMembers(req: EmulatorRequest): EmulatorResponse {
    const group = this.groupIndex.find(this.directory.groups, req.params.groupId);
    if (!group) return { status: 404, body: { error: 'Could not find group by id' } };
    return { body: page(req.url, this.membersOf(group), DEFAULT_MAX.members).map((u) => userJson(u)) };
  }

  /**
   * A group's live members by username. Kept per group while it lists the same ids and each still
   * finds the same user with the same login and state: a large group is read in many pages, and a
   * directory in as many member reads as it has groups.
   */
  private membersOf(group: FixtureGroup): FixtureUser[] {
    const users = this.directory.users;
    // With an id held twice, which user a member id means depends on all of them: resolve it as Keycloak's listing does.
    if (this.userIndex.duplicatesIn(users)) return this.membersByScan(group);
    const listed = group.members ?? [];
    const find = (id: string) => this.userIndex.find(users, id);
    const cached = this.resolvedMembers.get(group);
    if (cached?.resolution.stillFound(listed, find)) return cached.sorted;
    const resolution = new Resolution<FixtureUser>([...listed], find, ['login', 'state']);
    const sorted = resolution.found.filter((u): u is FixtureUser => u !== undefined && u.state !== 'deleted').sort(byUsername);
    this.resolvedMembers.set(group, { resolution, sorted });
    return sorted;
  }

  private membersByScan(group: FixtureGroup): FixtureUser[] {
    const live = new Map(this.liveUsers().map((u) => [u.id, u]));
    return (group.members ?? []).flatMap((id) => live.get(id) ?? []).sort(byUsername);
  }

  private readonly userIndex = new IdIndex<FixtureUser>();
  private readonly groupIndex = new IdIndex<FixtureGroup>();
  private readonly resolvedMembers = new WeakMap<FixtureGroup, { resolution: Resolution<FixtureUser>; sorted: FixtureUser[] }>();

  private tree(): GroupTree {
    return this.groupTree.get(this.directory.groups);
  }

  private readonly groupTree = new DerivedFromList<FixtureGroup, GroupTree>(['id', 'name', 'groups'], (groups) => new GroupTree(groups));

  private groupJson(tree: GroupTree, g: FixtureGroup, parentPath: string): Record<string, unknown> {
    const children = tree.children(g);
    const path = `${parentPath}/${g.name}`;
    const json: Record<string, unknown> = { id: g.id, name: g.name, path, ...(g.description ? { description: g.description } : {}) };
    if (this.legacyGroupTree) return { ...json, subGroups: children.map((c) => this.groupJson(tree, c, path)) };
    return { ...json, ...(parentPath ? { parentId: tree.parentOf(g.id)?.id } : {}), subGroupCount: children.length, subGroups: [] };
  }
}

/**
 * Keycloak groups form a tree: a fixture group nested in several goes under the first that lists it.
 * Built from the groups' ids, names and nested lists, so it holds while those stay the same.
 */
class GroupTree {
  private readonly parents = new Map<string, FixtureGroup>();
  private readonly byId = new Map<string, FixtureGroup>();
  private readonly sortedChildren = new Map<FixtureGroup, FixtureGroup[]>();
  private readonly paths = new Map<FixtureGroup, string>();
  private top?: FixtureGroup[];
  private readonly groups: readonly FixtureGroup[];

  constructor(groups: readonly FixtureGroup[]) {
    this.groups = [...groups];
    for (const g of groups) {
      if (!this.byId.has(g.id)) this.byId.set(g.id, g);
      for (const child of g.groups ?? []) if (child !== g.id && !this.parents.has(child)) this.parents.set(child, g);
    }
  }

  group(id: string): FixtureGroup | undefined {
    return this.byId.get(id);
  }

  parentOf(id: string): FixtureGroup | undefined {
    return this.parents.get(id);
  }

  topLevel(): FixtureGroup[] {
    this.top ??= this.groups.filter((g) => this.parentOf(g.id) === undefined).sort(byName);
    return this.top;
  }

  /** Direct subgroups by name. */
  children(group: FixtureGroup): FixtureGroup[] {
    let children = this.sortedChildren.get(group);
    if (!children) {
      children = (group.groups ?? []).flatMap((id) => {
        const child = this.group(id);
        return child && this.parentOf(id)?.id === group.id ? [child] : [];
      });
      this.sortedChildren.set(group, children.sort(byName));
    }
    return children;
  }

  path(group: FixtureGroup): string {
    let path = this.paths.get(group);
    if (path === undefined) {
      const parent = this.parentOf(group.id);
      path = `${parent ? this.path(parent) : ''}/${group.name}`;
      this.paths.set(group, path);
    }
    return path;
  }
}

function clientCredentials(req: EmulatorRequest): [string | undefined, string | undefined] {
  const basic = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ''));
  if (basic) {
    const [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
    return [decodeURIComponent(id), decodeURIComponent(secret ?? '')];
  }
  return [req.form.get('client_id') ?? undefined, req.form.get('client_secret') ?? undefined];
}

function username(u: FixtureUser): string {
  return u.login.split('@')[0].toLowerCase();
}

function userJson(u: FixtureUser): Record<string, unknown> {
  return {
    id: u.id,
    username: username(u),
    firstName: u.firstName,
    lastName: u.lastName,
    email: u.email,
    emailVerified: true,
    createdTimestamp: 1_709_547_300_000,
    // Keycloak has no suspended or staged state: such users are turned off. A brute-force lockout
    // leaves `enabled` true, so a locked fixture user is an enabled one here.
    enabled: u.state !== 'suspended' && u.state !== 'staged',
    totp: false,
    notBefore: 0,
  };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byName = (a: FixtureGroup, b: FixtureGroup) => compare(a.name, b.name);
const byUsername = (a: FixtureUser, b: FixtureUser) => compare(username(a), username(b));

/** first/max as Keycloak reads them: a missing max is the endpoint's default, a negative first is 0. */
function page<T>(url: URL, items: T[], defaultMax: number): T[] {
  const first = Math.max(0, Number(url.searchParams.get('first') ?? 0) || 0);
  const rawMax = url.searchParams.get('max');
  const max = rawMax === null || rawMax === '' ? defaultMax : Math.max(0, Number(rawMax) || 0);
  return items.slice(first, first + max);
}
