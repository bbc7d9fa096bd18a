// Authorised reads from the Management API v2, each list read to its end (see paging.ts), and 403s
// explained as the scope that is missing.
import { StallError, TransientError } from '../../errors.js';
import { type IdpHttpClient, type IdpResponse } from '../http.js';
import { describeUrl } from '../../util/http.js';
import type { TokenCache } from '../token.js';
import {
  parseCheckpointPage,
  parseMember,
  parseOrganization,
  parseRole,
  parseTotalsPage,
  parseUser,
  type Auth0GroupSource,
  type Auth0Member,
  type Auth0User,
} from './model.js';
import { readCheckpointList, readTotalsList, readUsers } from './paging.js';
import { errorText, expectedScopes } from './responses.js';

/** Management API scopes idpsync asks for, in Auth0's own names. */
export type Auth0Scope = 'read:users' | 'read:roles' | 'read:organizations' | 'read:organization_members';

/** The most rows Auth0 returns per page (per_page and take). */
export const MAX_PAGE_SIZE = 100;

type Query = Record<string, string | number | boolean | undefined>;

export class Auth0Api {
  readonly pageSize: number;

  constructor(
    private readonly http: IdpHttpClient,
    private readonly tokens: TokenCache,
    private readonly options: { apiBase: URL; pageSize?: number },
  ) {
    this.pageSize = Math.min(MAX_PAGE_SIZE, Math.max(2, options.pageSize ?? MAX_PAGE_SIZE));
  }

  url(path: string, query: Query = {}): URL {
    const url = new URL(path.replace(/^\/+/, ''), this.options.apiBase);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
    return url;
  }

  /** A GET with the token; a 403 names the scope Auth0 says is missing, or `scope` when it names none. */
  async get(url: URL, scope: Auth0Scope, signal?: AbortSignal, acceptStatuses: number[] = []): Promise<IdpResponse> {
    const res = await this.tokens.withToken((token) =>
      this.http.getJson(url, { headers: { authorization: `Bearer ${token}` }, signal, acceptStatuses: [403, ...acceptStatuses] }),
    );
    if (res.status === 403) throw accessDenied(url, scope, res.body);
    return res;
  }

  users(signal?: AbortSignal): Promise<Auth0User[]> {
    const what = `GET ${describeUrl(this.url('users'))}`;
    return readUsers(
      async (page, since) => {
        const url = this.url('users', {
          page,
          per_page: this.pageSize,
          include_totals: true,
          sort: 'created_at:1',
          search_engine: 'v3',
          q: since === undefined ? undefined : `created_at:["${since}" TO *]`,
        });
        return parseTotalsPage((await this.get(url, 'read:users', signal)).body, 'users', what);
      },
      { perPage: this.pageSize, parse: (item) => parseUser(item, what), what },
    );
  }

  roles(signal?: AbortSignal): Promise<Auth0GroupSource[]> {
    const what = `GET ${describeUrl(this.url('roles'))}`;
    return readTotalsList(
      async (page) => {
        const url = this.url('roles', { page, per_page: this.pageSize, include_totals: true });
        return parseTotalsPage((await this.get(url, 'read:roles', signal)).body, 'roles', what);
      },
      { perPage: this.pageSize, parse: (item) => parseRole(item, what), id: (r) => r.id, what },
    );
  }

  /** Users assigned the role directly. */
  roleMembers(roleId: string, signal?: AbortSignal): Promise<Auth0Member[]> {
    return this.members(`roles/${encodeURIComponent(roleId)}/users`, 'users', 'read:users', roleId, 'role', signal);
  }

  organizations(signal?: AbortSignal): Promise<Auth0GroupSource[]> {
    const what = `GET ${describeUrl(this.url('organizations'))}`;
    return readCheckpointList(
      async (from) => {
        const url = this.url('organizations', { from, take: this.pageSize });
        return parseCheckpointPage((await this.get(url, 'read:organizations', signal)).body, 'organizations', what);
      },
      { parse: (item) => parseOrganization(item, what), id: (o) => o.id, what },
    );
  }

  organizationMembers(orgId: string, signal?: AbortSignal): Promise<Auth0Member[]> {
    return this.members(`organizations/${encodeURIComponent(orgId)}/members`, 'members', 'read:organization_members', orgId, 'organization', signal);
  }

  /** Members by checkpoint; a role or organization deleted while it is read fails the read (the next sync sees it gone). */
  private members(path: string, key: string, scope: Auth0Scope, ofId: string, kind: string, signal?: AbortSignal): Promise<Auth0Member[]> {
    const what = `GET ${describeUrl(this.url(path))}`;
    return readCheckpointList(
      async (from) => {
        const res = await this.get(this.url(path, { from, take: this.pageSize }), scope, signal, [404]);
        if (res.status === 404) throw new TransientError('IdpUnavailable', `Auth0: ${kind} ${ofId} disappeared while it was being read`);
        return parseCheckpointPage(res.body, key, what);
      },
      { parse: (item) => parseMember(item, what), id: (m) => m.userId, what },
    );
  }
}

function accessDenied(url: URL, scope: Auth0Scope, body: unknown): StallError {
  const named = expectedScopes(body);
  const missing = named.length > 0 ? named.join(' or ') : scope;
  const said = errorText(body);
  return new StallError(
    'AccessDenied',
    `Auth0: GET ${describeUrl(url)} answered 403${said ? `: ${said}` : ''}. Grant the application the Management API scope ${missing} ` +
      `(Applications › APIs › Auth0 Management API › Machine to Machine Applications).`,
    { missingPermission: missing },
  );
}
