// Authorised GETs against Okta's management API: Link-header paging to the end, and 403s explained
// in Okta's terms (a scope the token lacks, or a permission the admin role lacks).
import { StallError, TransientError } from '../../errors.js';
import { nextLink, type IdpHttpClient, type IdpResponse } from '../http.js';
import { describeUrl } from '../../util/http.js';
import type { OktaAuthorizer } from './auth.js';
import { errorText } from './responses.js';

export type OktaScope = 'okta.users.read' | 'okta.groups.read' | 'okta.apps.read';

export interface GetOptions {
  signal?: AbortSignal;
  /** Return a 404 instead of throwing (the object went away while we read). */
  allowNotFound?: boolean;
}

export class OktaApi {
  constructor(
    private readonly http: IdpHttpClient,
    private readonly auth: OktaAuthorizer,
    readonly baseUrl: URL,
    /** Who Okta's admin roles apply to, for 403 messages. */
    private readonly principal: 'service app' | 'API token',
  ) {}

  url(path: string, query: Record<string, string | number> = {}): URL {
    const url = new URL(path.replace(/^\//, ''), this.baseUrl.href.endsWith('/') ? this.baseUrl : `${this.baseUrl.href}/`);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, String(value));
    return url;
  }

  async get(url: URL | string, scope: OktaScope, opts: GetOptions = {}): Promise<IdpResponse> {
    const res = await this.auth.withAuthorization((authorization) =>
      this.http.getJson(url, {
        headers: { authorization },
        signal: opts.signal,
        acceptStatuses: opts.allowNotFound ? [403, 404] : [403],
      }),
    );
    if (res.status === 403) throw this.accessDenied(res, `GET ${describeUrl(url)}`, scope);
    return res;
  }

  /**
   * Every item of a list, following rel="next" to the last page. A page that fails or is not a
   * JSON array fails the whole list: a partial list would read as deletions.
   * Returns undefined when allowNotFound is set and the list's owner is gone.
   */
  /** Every page's items; `map` reduces each item as its page arrives, so whole pages are not all held at once. */
  async list<T = unknown>(first: URL, scope: OktaScope, opts: GetOptions & { map?: (item: unknown) => T } = {}): Promise<T[] | undefined> {
    const items: T[] = [];
    const visited = new Set<string>();
    let url: URL | undefined = first;
    while (url) {
      visited.add(url.href);
      const res = await this.get(url, scope, opts);
      if (res.status === 404) return undefined;
      if (!Array.isArray(res.body)) {
        throw new TransientError('MalformedResponse', `Okta: GET ${describeUrl(url)} did not return a JSON array`);
      }
      for (const item of res.body) items.push(opts.map ? opts.map(item) : (item as T));
      url = this.followable(nextLink(res.headers.get('link')), url, visited);
    }
    return items;
  }

  private followable(next: string | undefined, current: URL, visited: Set<string>): URL | undefined {
    if (!next) return undefined;
    let url: URL;
    try {
      url = new URL(next, current);
    } catch {
      throw new TransientError('MalformedResponse', `Okta: GET ${describeUrl(current)} sent an invalid next link`);
    }
    // The next request carries our credentials: only ever to the org we were configured for.
    if (url.origin !== this.baseUrl.origin) {
      throw new TransientError('MalformedResponse', `Okta: GET ${describeUrl(current)} sent a next link to another host (${url.origin})`);
    }
    if (visited.has(url.href)) {
      throw new TransientError('MalformedResponse', `Okta: GET ${describeUrl(current)} sent a next link to a page already read`);
    }
    return url;
  }

  private accessDenied(res: IdpResponse, where: string, scope: OktaScope): StallError {
    const said = errorText(res.body) ?? '403 Forbidden';
    const challenge = res.headers.get('www-authenticate') ?? '';
    if (/error="?insufficient_scope/.test(challenge)) {
      const needed = /scope="([^"]+)"/.exec(challenge)?.[1] ?? scope;
      return new StallError(
        'AccessDenied',
        `Okta: ${where} needs the ${needed} scope, which the access token lacks (${said}). ` +
          `Grant ${needed} on the service app's "Okta API Scopes" tab.`,
        { missingPermission: needed },
      );
    }
    return new StallError(
      'AccessDenied',
      `Okta: ${where} answered 403 (${said}). The admin role assigned to the ${this.principal} does not allow ${scope} ` +
        `on this resource; give it a role with that permission over a resource set that includes it.`,
      { missingPermission: scope },
    );
  }
}
