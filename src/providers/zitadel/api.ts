// Authorised searches of a Zitadel instance: people (user service v2), the project's roles and its
// user grants (management API v1), each read with offset/limit to the end (every page checked against
// the last, see offset-paging.ts); 401s explained as the token or its audience, 403s as the permission missing.
import { StallError } from '../../errors.js';
import { type IdpHttpClient, type IdpResponse } from '../http.js';
import { describeUrl } from '../../util/http.js';
import { listAll } from '../offset-paging.js';
import { API_AUDIENCE_SCOPE, type AccessTokens } from './auth.js';
import { parseGrant, parsePage, parseRole, parseUser, type ZitadelGrant, type ZitadelPage, type ZitadelRole, type ZitadelUser } from './model.js';

/** Zitadel's permissions for what the sync reads, in its own names. */
export type ZitadelPermission = 'user.read' | 'user.grant.read' | 'project.role.read';

/** Zitadel's own default list limit. */
export const DEFAULT_PAGE_SIZE = 100;

export interface ZitadelApiOptions {
  /** The instance URL (may carry a proxy path prefix). */
  base: URL;
  projectId: string;
  organizationId?: string;
  pageSize?: number;
}

/** One search the sync makes: where, with which filters, and the permission it needs. */
export interface Search<T> {
  /** For messages and verify, e.g. "POST /v2/users". */
  name: string;
  path: string;
  permission: ZitadelPermission;
  /** The request body besides its query (offset, limit, asc). */
  filters: Record<string, unknown>;
  parse: (item: unknown, what: string) => T;
  id: (item: T) => string;
}

export class ZitadelApi {
  readonly pageSize: number;

  constructor(
    private readonly http: IdpHttpClient,
    private readonly tokens: AccessTokens,
    private readonly options: ZitadelApiOptions,
  ) {
    this.pageSize = Math.max(2, options.pageSize ?? DEFAULT_PAGE_SIZE);
  }

  get projectId(): string {
    return this.options.projectId;
  }

  url(path: string): URL {
    return new URL(`${this.options.base.href.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`);
  }

  /** Human users, oldest first: rows created during the read land after the ones already read. */
  get userSearch(): Search<ZitadelUser> {
    const org = this.options.organizationId;
    return {
      name: 'POST /v2/users',
      path: 'v2/users',
      permission: 'user.read',
      filters: {
        sortingColumn: 'USER_FIELD_NAME_CREATION_DATE',
        queries: [{ typeQuery: { type: 'TYPE_HUMAN' } }, ...(org ? [{ organizationIdQuery: { organizationId: org } }] : [])],
      },
      parse: parseUser,
      id: (u) => u.userId,
    };
  }

  get roleSearch(): Search<ZitadelRole> {
    return {
      name: 'POST /management/v1/projects/{projectId}/roles/_search',
      path: `management/v1/projects/${encodeURIComponent(this.options.projectId)}/roles/_search`,
      permission: 'project.role.read',
      filters: {},
      parse: parseRole,
      id: (r) => r.key,
    };
  }

  get grantSearch(): Search<ZitadelGrant> {
    return {
      name: 'POST /management/v1/users/grants/_search',
      path: 'management/v1/users/grants/_search',
      permission: 'user.grant.read',
      filters: { queries: [{ projectIdQuery: { projectId: this.options.projectId } }] },
      parse: parseGrant,
      id: (g) => g.id,
    };
  }

  /** Every row of a search. A page that fails or is not a search result fails the whole list. */
  readAll<T>(search: Search<T>, signal?: AbortSignal): Promise<T[]> {
    return listAll(
      async (offset, limit) => {
        const page = await this.page(search, offset, limit, signal);
        return { items: page.result.map((item) => search.parse(item, search.name)), totalCount: page.totalResult };
      },
      { idpName: 'Zitadel', limit: this.pageSize, id: search.id, what: search.name },
    );
  }

  /** One page of a search. */
  async page<T>(search: Search<T>, offset: number, limit: number, signal?: AbortSignal): Promise<ZitadelPage> {
    const body = { ...search.filters, query: { offset: String(offset), limit, asc: true } };
    const res = await this.post(search.path, body, search.permission, signal);
    return parsePage(res.body, search.name);
  }

  /** The token's own user; any token that may call the API may read it. */
  async me(signal?: AbortSignal): Promise<void> {
    await this.call('GET', 'auth/v1/users/me', undefined, undefined, signal);
  }

  private post(path: string, body: Record<string, unknown>, permission: ZitadelPermission, signal?: AbortSignal): Promise<IdpResponse> {
    return this.call('POST', path, body, permission, signal);
  }

  private call(method: string, path: string, body: Record<string, unknown> | undefined, permission: ZitadelPermission | undefined, signal?: AbortSignal): Promise<IdpResponse> {
    const url = this.url(path);
    // The management API (v1) reads the organisation the header names; the v2 search filters by it instead.
    const org = path.startsWith('management/') ? this.options.organizationId : undefined;
    return this.tokens.withToken(async (token) => {
      const res = await this.http.request(url, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(org ? { 'x-zitadel-orgid': org } : {}) },
        body,
        signal,
        acceptStatuses: [401, 403],
      });
      if (res.status === 401) throw this.unauthorized(`${method} ${describeUrl(url)}`, res.body);
      if (res.status === 403) throw this.accessDenied(`${method} ${describeUrl(url)}`, permission, res.body);
      return res;
    });
  }

  private unauthorized(request: string, body: unknown): StallError {
    const said = errorText(body);
    const where = `Zitadel: ${request} answered 401${said ? `: ${said}` : ''}.`;
    if (said && /APP-Zxfako|invalid audience/i.test(said)) {
      return new StallError(
        'InvalidCredentials',
        `${where} The access token does not name Zitadel's API in its audience: a token for the API must be requested with the scope ` +
          `"${API_AUDIENCE_SCOPE}". Check that nothing between the operator and Zitadel rewrites the token request, and that ` +
          'spec.provider.zitadel.baseUrl is the instance that issued the token.',
        { missingPermission: `scope ${API_AUDIENCE_SCOPE}` },
      );
    }
    const fix =
      this.tokens.form === 'token'
        ? 'Check the Secret\'s "token": a personal access token of the service user that has not expired or been removed, of a user that is still active.'
        : 'The service user\'s access token was refused: check that the service user is still active and that baseUrl is the instance\'s own domain.';
    return new StallError('InvalidCredentials', `${where} ${fix}`);
  }

  private accessDenied(request: string, permission: ZitadelPermission | undefined, body: unknown): StallError {
    const said = errorText(body);
    const where = this.options.organizationId ? `organization ${this.options.organizationId}` : 'its organization';
    const refused = `Zitadel: ${request} answered 403${said ? `: ${said}` : ''}.`;
    if (!permission) return new StallError('AccessDenied', refused);
    return new StallError(
      'AccessDenied',
      `${refused} The service user needs the permission ${permission}: give it a manager role on ${where} that includes it ` +
        '(e.g. Org Owner Viewer, ORG_OWNER_VIEWER).',
      { missingPermission: permission },
    );
  }
}

/**
 * Zitadel's error bodies: {"code":7,"message":"…","details":[…]} from the REST gateway (v1) or
 * {"code":"permission_denied","message":"…"} from the Connect handlers (v2).
 */
export function errorText(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  const message = (body as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message !== '' ? message : undefined;
}
