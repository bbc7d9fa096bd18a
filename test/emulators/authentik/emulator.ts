// An authentik instance on 127.0.0.1: the v3 API reads idpsync makes (users, groups without their
// embedded users, members through groups_by_pk, the token's own user), page/page_size paging with
// authentik's pagination block, API-token checks and authentik's 401/403/400/404 answers.
import { randomBytes } from 'node:crypto';
import { EmulatorBase, type EmulatorConnection, type EmulatorRequest, type EmulatorResponse, type RateLimitAnswer } from '../common.js';
import { DerivedFromList, IdIndex, Resolution } from '../cache.js';
import type { DirectoryFixture, FixtureGroup, FixtureUser } from '../fixture.js';

export type AuthentikPermission = 'authentik_core.view_user' | 'authentik_core.view_group';

export interface AuthentikEmulatorOptions {
  /** Older authentik: a group names its single `parent` (no `parents` list); a group nested in several goes under the first. */
  singleParent?: boolean;
}

/** authentik's PAGE_SIZE default; page_size is honoured up to MAX_PAGE_SIZE. */
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

export interface ServiceAccount {
  username: string;
  /** Group ids (fixture ids) the service account is a member of. */
  groups?: string[];
  type?: 'service_account' | 'internal_service_account';
}

export class AuthentikEmulator extends EmulatorBase {
  readonly token = `ak-${randomBytes(24).toString('hex')}`;
  /** Model permissions held by the token's user. */
  permissions = new Set<AuthentikPermission>(['authentik_core.view_user', 'authentik_core.view_group']);
  /** Machine users listed next to the people (the token's own user among them). */
  serviceAccounts: ServiceAccount[] = [{ username: 'idpsync-reader', type: 'service_account' }];
  /** Sent as Retry-After with an injected 429 (authentik's throttling names seconds). */
  retryAfterSeconds?: number;
  readonly singleParent: boolean;
  /** Runs before each API request is answered: a test's chance to change the directory mid-read, or answer instead. */
  onRequest?: (req: EmulatorRequest) => void | EmulatorResponse | Promise<void | EmulatorResponse>;
  /** Integer pks, given on first sight and never reused, as authentik's database does. */
  private readonly pks = new Map<string, number>();

  constructor(fixture: DirectoryFixture, options: AuthentikEmulatorOptions = {}) {
    super(fixture);
    this.singleParent = options.singleParent ?? false;
    this.api('/core/users/', 'authentik_core.view_user', (req) => this.listUsers(req));
    this.api('/core/users/me/', undefined, () => ({ body: { user: { pk: this.pk('service:idpsync-reader'), username: 'idpsync-reader', type: 'service_account' } } }));
    this.api('/core/groups/', 'authentik_core.view_group', (req) => this.listGroups(req));
  }

  connection(): EmulatorConnection {
    return { type: 'authentik', settings: { baseUrl: this.baseUrl }, secret: { token: this.token } };
  }

  /** The pk authentik gives the fixture user with this id. */
  userPk(fixtureId: string): string {
    return String(this.pk(fixtureId));
  }

  protected rateLimitAnswer(): RateLimitAnswer {
    const wait = this.retryAfterSeconds;
    return {
      status: 429,
      headers: wait !== undefined ? { 'retry-after': String(wait) } : {},
      body: { detail: wait !== undefined ? `Request was throttled. Expected available in ${wait} seconds.` : 'Request was throttled.' },
    };
  }

  protected errorBody(status: number, message: string): unknown {
    return { detail: status >= 500 ? `Server Error: ${message}` : message };
  }

  /** An API endpoint: bearer token (401), then the model permission it needs (403). */
  private api(path: string, permission: AuthentikPermission | undefined, handler: (req: EmulatorRequest) => EmulatorResponse): void {
    this.route('GET', `/api/v3${path}`, async (req) => {
      const answer = await this.onRequest?.(req);
      if (answer) return answer;
      if (String(req.headers.authorization ?? '') !== `Bearer ${this.token}`) return { status: 401, body: { detail: 'Token invalid/expired' } };
      if (permission && !this.permissions.has(permission)) return { status: 403, body: { detail: 'You do not have permission to perform this action.' } };
      return handler(req);
    });
  }

  private pk(key: string): number {
    if (!this.pks.has(key) && this.peoplePassOwed) this.livePeople();
    if (!this.pks.has(key)) this.pks.set(key, this.pks.size + 1);
    return this.pks.get(key)!;
  }

  /**
   * Every users request gives each person without a pk one, in directory order. A members request
   * only notes that it owes this pass, which is made before the next new pk is given: a pass made
   * then gives the same pks, and checking the whole directory on each group's member read was the
   * cost of a large read. (A person added and taken away again in between would not use up a pk.)
   */
  private peoplePassOwed = false;

  private listUsers(req: EmulatorRequest): EmulatorResponse {
    const groupPk = req.url.searchParams.get('groups_by_pk');
    if (groupPk === null) {
      const people = this.livePeople();
      return paginate(req.url, this.everyone(people, this.machines()), (a) => this.accountJson(a));
    }
    this.peoplePassOwed = true;
    const machines = this.machines();
    const group = this.groupIndex.find(this.directory.groups, groupPk);
    if (!group) return { status: 400, body: { groups_by_pk: [`Select a valid choice. ${groupPk} is not one of the available choices.`] } };
    const members = mergeByPk(this.membersOf(group), machines.filter((s) => s.account.groups?.includes(group.id)), (u) => this.pk(u.id));
    return paginate(req.url, members, (a) => this.accountJson(a));
  }

  /**
   * Users not deleted, by pk. Listing users gives every one of them a pk, in directory order, before
   * the answer is made; that is done again only when the users changed, as it gives no new pk otherwise.
   */
  private livePeople(): FixtureUser[] {
    this.peoplePassOwed = false;
    return this.peopleByPk.get(this.directory.users);
  }

  private readonly peopleByPk = new DerivedFromList<FixtureUser, FixtureUser[]>(['id', 'state'], (users) => {
    const live = users.filter((u) => u.state !== 'deleted');
    for (const u of live) this.pk(u.id);
    return live.sort((a, b) => this.pk(a.id) - this.pk(b.id));
  });

  private machines(): Machine[] {
    return this.serviceAccounts.map((account) => ({ account, pk: this.pk(`service:${account.username}`) }));
  }

  /** People and machines by pk, kept while both are the same. */
  private everyone(people: FixtureUser[], machines: Machine[]): (FixtureUser | Machine)[] {
    const cached = this.everyoneCache;
    if (cached?.people === people && sameMachines(cached.machines, machines)) return cached.merged;
    const merged = mergeByPk(people, machines, (u) => this.pk(u.id));
    this.everyoneCache = { people, machines: machines.map((m) => ({ ...m, account: { ...m.account } })), merged };
    return merged;
  }

  private everyoneCache?: { people: FixtureUser[]; machines: Machine[]; merged: (FixtureUser | Machine)[] };

  /**
   * A group's people by pk, kept per group while it lists the same ids and each finds the same user
   * in the same state: a large group is read in many pages, and a directory in one read per group.
   */
  private membersOf(group: FixtureGroup): FixtureUser[] {
    const users = this.directory.users;
    // With an id held twice, every user holding it is a member: scan, as authentik's query does.
    if (this.userIndex.duplicatesIn(users)) return this.membersByScan(group);
    const ids = [...new Set(group.members ?? [])];
    const find = (id: string) => this.userIndex.find(users, id);
    const cached = this.resolvedMembers.get(group);
    if (cached?.resolution.stillFound(ids, find)) return cached.sorted;
    const resolution = new Resolution<FixtureUser>(ids, find, ['state']);
    const sorted = resolution.found.filter((u): u is FixtureUser => u !== undefined && u.state !== 'deleted').sort((a, b) => this.pk(a.id) - this.pk(b.id));
    this.resolvedMembers.set(group, { resolution, sorted });
    return sorted;
  }

  private membersByScan(group: FixtureGroup): FixtureUser[] {
    const members = new Set(group.members ?? []);
    return this.livePeople().filter((u) => members.has(u.id));
  }

  private readonly userIndex = new IdIndex<FixtureUser>();
  private readonly groupIndex = new IdIndex<FixtureGroup>();
  private readonly resolvedMembers = new WeakMap<FixtureGroup, { resolution: Resolution<FixtureUser>; sorted: FixtureUser[] }>();

  private accountJson(a: FixtureUser | Machine): Record<string, unknown> {
    if (!('account' in a)) return this.userJson(a);
    const { account: s, pk } = a;
    return { pk, username: s.username, name: s.username, email: '', is_active: true, type: s.type ?? 'service_account', path: 'goauthentik.io/service-accounts' };
  }

  private userJson(u: FixtureUser): Record<string, unknown> {
    return {
      pk: this.pk(u.id),
      username: u.login.split('@')[0].toLowerCase(),
      name: [u.firstName, u.lastName].filter(Boolean).join(' '),
      // authentik has no suspended or staged state: such users are deactivated. A locked-out user is still active.
      is_active: u.state !== 'suspended' && u.state !== 'staged',
      last_login: null,
      is_superuser: false,
      email: u.email ?? '',
      attributes: {},
      uid: `uid-${u.id}`,
      path: 'users',
      type: 'internal',
      uuid: u.id,
    };
  }

  private listGroups(req: EmulatorRequest): EmulatorResponse {
    const groups = this.directory.groups;
    const tree = this.groupTree.get(groups);
    const embedUsers = req.url.searchParams.get('include_users') !== 'false';
    // Listing groups gives each a pk by name, and with embedded users each member one too.
    (embedUsers ? this.groupAndMemberPks : this.groupPks).get(groups);
    return paginate(req.url, tree.byName, (g) => this.groupJson(g, embedUsers, tree.parents.get(g.id) ?? []));
  }

  private readonly groupTree = new DerivedFromList<FixtureGroup, { byName: FixtureGroup[]; parents: Map<string, FixtureGroup[]> }>(['id', 'name', 'groups'], (groups) => ({
    byName: [...groups].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    parents: parentsById(groups),
  }));

  private readonly groupPks = new DerivedFromList<FixtureGroup, void>(['id', 'name'], (groups) => {
    for (const g of this.groupTree.get(groups).byName) this.pk(`group:${g.id}`);
  });

  private readonly groupAndMemberPks = new DerivedFromList<FixtureGroup, void>(['id', 'name', 'members'], (groups) => {
    for (const g of this.groupTree.get(groups).byName) {
      this.pk(`group:${g.id}`);
      for (const id of g.members ?? []) this.pk(id);
    }
  });

  private groupJson(g: FixtureGroup, embedUsers: boolean, parents: FixtureGroup[]): Record<string, unknown> {
    const nesting = this.singleParent
      ? { parent: parents[0]?.id ?? null, parent_name: parents[0]?.name ?? null }
      : { parents: parents.map((p) => p.id), parents_obj: parents.map((p) => ({ pk: p.id, name: p.name })) };
    return {
      pk: g.id,
      num_pk: this.pk(`group:${g.id}`),
      name: g.name,
      is_superuser: false,
      ...nesting,
      attributes: g.description ? { description: g.description } : {},
      roles: [],
      ...(embedUsers ? { users: (g.members ?? []).map((id) => this.pk(id)) } : {}),
    };
  }
}

interface Machine {
  account: ServiceAccount;
  pk: number;
}

function sameMachines(a: Machine[], b: Machine[]): boolean {
  return a.length === b.length && a.every((m, i) => m.pk === b[i].pk && m.account.username === b[i].account.username && m.account.type === b[i].account.type);
}

/** Two lists already ordered by pk as one, as a stable sort of the first followed by the second would order them. */
function mergeByPk<T>(people: T[], machines: Machine[], pkOf: (item: T) => number): (T | Machine)[] {
  if (machines.length === 0) return people;
  const rest = [...machines].sort((a, b) => a.pk - b.pk);
  const merged: (T | Machine)[] = [];
  let m = 0;
  for (const p of people) {
    while (m < rest.length && rest[m].pk < pkOf(p)) merged.push(rest[m++]);
    merged.push(p);
  }
  return merged.concat(rest.slice(m));
}

/** Each group's parents, in directory order: the groups that list it, other than itself. */
function parentsById(groups: readonly FixtureGroup[]): Map<string, FixtureGroup[]> {
  const parents = new Map<string, FixtureGroup[]>();
  for (const p of groups) {
    for (const id of new Set(p.groups ?? [])) {
      if (id === p.id) continue;
      const list = parents.get(id) ?? [];
      list.push(p);
      parents.set(id, list);
    }
  }
  return parents;
}

/** page/page_size as authentik reads them, with its pagination block; a page past the end is a 404. */
function paginate<T>(url: URL, items: readonly T[], toJson: (item: T) => unknown): EmulatorResponse {
  const rawSize = Number(url.searchParams.get('page_size'));
  const size = Number.isInteger(rawSize) && rawSize > 0 ? Math.min(rawSize, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  const rawPage = url.searchParams.get('page');
  const page = rawPage === null ? 1 : Number(rawPage);
  const totalPages = Math.max(1, Math.ceil(items.length / size));
  if (!Number.isInteger(page) || page < 1 || page > totalPages) return { status: 404, body: { detail: 'Invalid page.' } };
  const start = (page - 1) * size;
  const results = items.slice(start, start + size).map(toJson);
  return {
    body: {
      pagination: {
        next: page < totalPages ? page + 1 : 0,
        previous: page > 1 ? page - 1 : 0,
        count: items.length,
        current: page,
        total_pages: totalPages,
        start_index: results.length > 0 ? start + 1 : 0,
        end_index: start + results.length,
      },
      results,
      autocomplete: {},
    },
  };
}
