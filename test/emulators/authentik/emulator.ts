// An authentik instance on 127.0.0.1: the v3 API reads idpsync makes (users, groups without their
// embedded users, members through groups_by_pk, the token's own user), page/page_size paging with
// authentik's pagination block, API-token checks and authentik's 401/403/400/404 answers.
import { randomBytes } from 'node:crypto';
import { EmulatorBase, type EmulatorConnection, type EmulatorRequest, type EmulatorResponse, type RateLimitAnswer } from '../common.js';
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
    if (!this.pks.has(key)) this.pks.set(key, this.pks.size + 1);
    return this.pks.get(key)!;
  }

  private listUsers(req: EmulatorRequest): EmulatorResponse {
    let users = [...this.people(), ...this.machines()];
    const groupPk = req.url.searchParams.get('groups_by_pk');
    if (groupPk !== null) {
      const group = this.group(groupPk);
      if (!group) return { status: 400, body: { groups_by_pk: [`Select a valid choice. ${groupPk} is not one of the available choices.`] } };
      const members = new Set([...(group.members ?? []), ...this.serviceAccounts.filter((s) => s.groups?.includes(group.id)).map((s) => `service:${s.username}`)]);
      users = users.filter((u) => members.has(u.key));
    }
    return paginate(req.url, users.sort((a, b) => a.pk - b.pk).map((u) => u.json));
  }

  private people() {
    return this.directory.users
      .filter((u) => u.state !== 'deleted')
      .map((u) => ({ key: u.id, pk: this.pk(u.id), json: this.userJson(u) }));
  }

  private machines() {
    return this.serviceAccounts.map((s) => {
      const key = `service:${s.username}`;
      const pk = this.pk(key);
      return { key, pk, json: { pk, username: s.username, name: s.username, email: '', is_active: true, type: s.type ?? 'service_account', path: 'goauthentik.io/service-accounts' } };
    });
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
    const groups = [...this.directory.groups].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const embedUsers = req.url.searchParams.get('include_users') !== 'false';
    return paginate(req.url, groups.map((g) => this.groupJson(g, embedUsers)));
  }

  private groupJson(g: FixtureGroup, embedUsers: boolean): Record<string, unknown> {
    const parents = this.directory.groups.filter((p) => p.id !== g.id && (p.groups ?? []).includes(g.id));
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

  private group(pk: string): FixtureGroup | undefined {
    return this.directory.groups.find((g) => g.id === pk);
  }
}

/** page/page_size as authentik reads them, with its pagination block; a page past the end is a 404. */
function paginate(url: URL, items: unknown[]): EmulatorResponse {
  const rawSize = Number(url.searchParams.get('page_size'));
  const size = Number.isInteger(rawSize) && rawSize > 0 ? Math.min(rawSize, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  const rawPage = url.searchParams.get('page');
  const page = rawPage === null ? 1 : Number(rawPage);
  const totalPages = Math.max(1, Math.ceil(items.length / size));
  if (!Number.isInteger(page) || page < 1 || page > totalPages) return { status: 404, body: { detail: 'Invalid page.' } };
  const start = (page - 1) * size;
  const results = items.slice(start, start + size);
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
