// Authorised reads from the v3 API: every page of a list (see paging.ts), 401s explained as the token
// and 403s as the authentik permission that is missing.
import { StallError, TransientError } from '../../errors.js';
import { type IdpHttpClient, type IdpResponse } from '../http.js';
import { describeUrl } from '../../util/http.js';
import { parseGroup, parsePage, parseUser, type AuthentikGroup, type AuthentikPage, type AuthentikUser } from './model.js';
import { readAllPages } from './paging.js';

/** The model permissions the sync needs, in authentik's own names. */
export type AuthentikPermission = 'authentik_core.view_user' | 'authentik_core.view_group';

/** authentik's own default page size. */
export const DEFAULT_PAGE_SIZE = 100;

export interface AuthentikApiOptions {
  /** {baseUrl}/api/v3/ (with the trailing slash). */
  apiBase: URL;
  token: string;
  pageSize?: number;
}

/** The API root under a server URL that may carry a path (authentik behind a proxy prefix). */
export function apiBase(base: URL): URL {
  return new URL(`${base.href.replace(/\/+$/, '')}/api/v3/`);
}

export class AuthentikApi {
  readonly pageSize: number;

  constructor(
    private readonly http: IdpHttpClient,
    private readonly options: AuthentikApiOptions,
  ) {
    this.pageSize = Math.max(1, options.pageSize ?? DEFAULT_PAGE_SIZE);
  }

  url(path: string, query: Record<string, string | number | boolean> = {}): URL {
    const url = new URL(path.replace(/^\/+/, ''), this.options.apiBase);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, String(value));
    return url;
  }

  async get(url: URL, permission: AuthentikPermission | undefined, signal?: AbortSignal, acceptStatuses: number[] = []): Promise<IdpResponse> {
    const res = await this.http.getJson(url, {
      headers: { authorization: `Bearer ${this.options.token}` },
      signal,
      acceptStatuses: [401, 403, ...acceptStatuses],
    });
    if (res.status === 401) throw this.badToken(url, res.body);
    if (res.status === 403) throw this.accessDenied(url, permission, res.body);
    return res;
  }

  /** The token's own user; any valid token may read it. */
  async me(signal?: AbortSignal): Promise<void> {
    await this.get(this.url('core/users/me/'), undefined, signal);
  }

  /** One page of a list, for verify. */
  async firstPage(path: string, query: Record<string, string | number | boolean>, permission: AuthentikPermission, signal?: AbortSignal): Promise<AuthentikPage> {
    const url = this.url(path, { ...query, page: 1, page_size: 1 });
    return parsePage((await this.get(url, permission, signal)).body, `GET ${describeUrl(url)}`);
  }

  users(signal?: AbortSignal): Promise<AuthentikUser[]> {
    return this.list('core/users/', {}, 'authentik_core.view_user', signal, (item, what) => parseUser(item, what), (u) => u.pk);
  }

  groups(signal?: AbortSignal): Promise<AuthentikGroup[]> {
    // include_users defaults to true and embeds every member; members are paged separately instead.
    return this.list('core/groups/', { include_users: false }, 'authentik_core.view_group', signal, (item, what) => parseGroup(item, what), (g) => g.pk);
  }

  /** Direct user members of one group. */
  members(groupPk: string, signal?: AbortSignal): Promise<AuthentikUser[]> {
    return this.list('core/users/', { groups_by_pk: groupPk }, 'authentik_core.view_user', signal, (item, what) => parseUser(item, what), (u) => u.pk, groupPk);
  }

  /**
   * Every item of a list. A page that fails or is not a paginated list fails the list; so does a group
   * that disappears while its members are read (authentik then refuses its pk with a 400): the
   * directory changed under the sync, and the next one will see it whole.
   */
  private list<T>(
    path: string,
    query: Record<string, string | number | boolean>,
    permission: AuthentikPermission,
    signal: AbortSignal | undefined,
    parse: (item: unknown, what: string) => T,
    id: (item: T) => string,
    ofGroup?: string,
  ): Promise<T[]> {
    const what = `GET ${describeUrl(this.url(path))}${ofGroup ? `?groups_by_pk=${ofGroup}` : ''}`;
    return readAllPages(
      async (page) => {
        const url = this.url(path, { ...query, page, page_size: this.pageSize });
        // A 404 past page 1 means the list shrank since page 1; on page 1 it means a wrong baseUrl.
        const res = await this.get(url, permission, signal, [...(ofGroup ? [400] : []), ...(page > 1 ? [404] : [])]);
        if (res.status === 400) throw new TransientError('IdpUnavailable', `authentik: group ${ofGroup} disappeared while it was being read`);
        if (res.status === 404) return undefined;
        return parsePage(res.body, what);
      },
      { parse: (item) => parse(item, what), id, what },
    );
  }

  private badToken(url: URL, body: unknown): StallError {
    return new StallError(
      'InvalidCredentials',
      `authentik: GET ${describeUrl(url)} answered 401${detailOf(body)}. Check the Secret's "token": an API token ` +
        `(Directory › Tokens and App passwords, intent API) that has not expired or been deleted.`,
    );
  }

  private accessDenied(url: URL, permission: AuthentikPermission | undefined, body: unknown): StallError {
    return new StallError(
      'AccessDenied',
      `authentik: GET ${describeUrl(url)} answered 403${detailOf(body)}.` +
        (permission ? ` Grant the token's user the permission ${permission} (through a role of one of its groups).` : ''),
      permission ? { missingPermission: permission } : undefined,
    );
  }
}

/** authentik's error bodies: {"detail":"…"}. */
export function errorText(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  const detail = (body as { detail?: unknown } | null)?.detail;
  return typeof detail === 'string' && detail !== '' ? detail : undefined;
}

function detailOf(body: unknown): string {
  const text = errorText(body);
  return text ? `: ${text}` : '';
}
