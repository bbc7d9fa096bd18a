// Authorised reads from the Admin REST API: first/max paging to the end (each page checked against
// the last, see offset-paging.ts), and 403s explained as the realm-management role that is missing.
import { StallError, TransientError } from '../../errors.js';
import { type IdpHttpClient, type IdpResponse } from '../http.js';
import { describeUrl } from '../../util/http.js';
import { listAll } from '../offset-paging.js';
import type { TokenCache } from '../token.js';
import { parseArray, parseGroup, parseUser, type KeycloakGroup, type KeycloakUser } from './model.js';

/** realm-management client roles, in Keycloak's own names. */
export type RealmManagementRole = 'view-users' | 'query-groups';

/** Keycloak's own default page size for users and members; /children defaults to 10, so max is always sent. */
export const DEFAULT_PAGE_SIZE = 100;

export interface KeycloakApiOptions {
  adminBase: URL;
  clientId: string;
  pageSize?: number;
}

export class KeycloakApi {
  readonly pageSize: number;

  constructor(
    private readonly http: IdpHttpClient,
    private readonly tokens: TokenCache,
    private readonly options: KeycloakApiOptions,
  ) {
    this.pageSize = Math.max(2, options.pageSize ?? DEFAULT_PAGE_SIZE);
  }

  url(path: string, query: Record<string, string | number | boolean> = {}): URL {
    const url = new URL(path.replace(/^\/+/, ''), this.options.adminBase);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, String(value));
    return url;
  }

  async get(url: URL, role: RealmManagementRole, signal?: AbortSignal, acceptStatuses: number[] = []): Promise<IdpResponse> {
    const res = await this.tokens.withToken((token) =>
      this.http.getJson(url, { headers: { authorization: `Bearer ${token}` }, signal, acceptStatuses: [403, ...acceptStatuses] }),
    );
    if (res.status === 403) throw this.accessDenied(url, role, res.body);
    return res;
  }

  users(signal?: AbortSignal): Promise<KeycloakUser[]> {
    return this.list('users', 'view-users', signal, (item, what) => parseUser(item, what), (u) => u.id);
  }

  topLevelGroups(signal?: AbortSignal): Promise<KeycloakGroup[]> {
    return this.list('groups', 'query-groups', signal, (item, what) => parseGroup(item, what), (g) => g.id);
  }

  /** Direct subgroups (Keycloak 23 and later). */
  children(groupId: string, signal?: AbortSignal): Promise<KeycloakGroup[]> {
    return this.list(`groups/${encodeURIComponent(groupId)}/children`, 'view-users', signal, (item, what) => parseGroup(item, what), (g) => g.id, groupId);
  }

  /** Direct user members of one group. */
  members(groupId: string, signal?: AbortSignal): Promise<KeycloakUser[]> {
    return this.list(`groups/${encodeURIComponent(groupId)}/members`, 'view-users', signal, (item, what) => parseUser(item, what), (u) => u.id, groupId);
  }

  /**
   * Every item of a list. A page that fails or is not a JSON array fails the list; a group that
   * disappears while its members are read fails it too: the directory changed under the sync, and
   * the next one will see it whole.
   */
  private list<T>(
    path: string,
    role: RealmManagementRole,
    signal: AbortSignal | undefined,
    parse: (item: unknown, what: string) => T,
    id: (item: T) => string,
    ofGroup?: string,
  ): Promise<T[]> {
    const what = `GET ${describeUrl(this.url(path))}`;
    return listAll(
      async (first, max) => {
        const url = this.url(path, { first, max, briefRepresentation: true });
        const res = await this.get(url, role, signal, ofGroup ? [404] : []);
        if (res.status === 404) {
          throw new TransientError('IdpUnavailable', `Keycloak: group ${ofGroup} disappeared while it was being read`);
        }
        return { items: parseArray(res.body, what).map((item) => parse(item, what)) };
      },
      { idpName: 'Keycloak', limit: this.pageSize, id, what },
    );
  }

  private accessDenied(url: URL, role: RealmManagementRole, body: unknown): StallError {
    const said = typeof (body as { error?: unknown })?.error === 'string' ? `: ${(body as { error: string }).error}` : '';
    return new StallError(
      'AccessDenied',
      `Keycloak: GET ${describeUrl(url)} answered 403${said}. Assign the realm-management client role ${role} to the service ` +
        `account of client ${this.options.clientId} (Clients › ${this.options.clientId} › Service accounts roles).`,
      { missingPermission: `realm-management ${role}` },
    );
  }
}
