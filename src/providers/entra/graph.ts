// Microsoft Graph reads: bearer token from the cache, @odata.nextLink paging to the end, Graph's
// error bodies in messages, and 403s turned into the application permission that is missing.
import { StallError, TransientError } from '../../errors.js';
import { type IdpHttpClient } from '../http.js';
import { describeUrl } from '../../util/http.js';
import type { TokenCache } from '../token.js';

/** Application permissions, in Entra's own names. */
export type GraphPermission = 'User.Read.All' | 'GroupMember.Read.All' | 'Application.Read.All';

export interface GraphPage<T> {
  value: T[];
  nextLink?: string;
  deltaLink?: string;
}

/** Graph's error body `{"error":{"code":"…","message":"…"}}` as "code: message". */
export function graphErrorText(body: unknown): string | undefined {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (!error || typeof error !== 'object') return typeof body === 'string' && body ? body : undefined;
  const code = typeof error.code === 'string' ? error.code : undefined;
  const message = typeof error.message === 'string' ? error.message : undefined;
  return [code, message].filter(Boolean).join(': ') || undefined;
}

/**
 * Reads one page of a Graph collection. A 200 without a `value` array is malformed, never "empty";
 * paging links must stay on the Graph origin, since they are sent the bearer token.
 */
export function parsePage<T>(body: unknown, url: string, graphOrigin: string): GraphPage<T> {
  const where = describeUrl(url);
  if (!body || typeof body !== 'object' || !Array.isArray((body as { value?: unknown }).value)) {
    throw new TransientError('MalformedResponse', `Entra: ${where} returned a body without a "value" array`);
  }
  const raw = body as { value: T[]; '@odata.nextLink'?: unknown; '@odata.deltaLink'?: unknown };
  return {
    value: raw.value,
    nextLink: link(raw['@odata.nextLink'], '@odata.nextLink', where, graphOrigin),
    deltaLink: link(raw['@odata.deltaLink'], '@odata.deltaLink', where, graphOrigin),
  };
}

function link(value: unknown, name: string, where: string, graphOrigin: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || url.origin !== graphOrigin) {
    throw new TransientError('MalformedResponse', `Entra: ${where} returned an ${name} outside ${graphOrigin}`);
  }
  return url.href;
}

export class GraphClient {
  /**
   * Set after a 403. Tokens carry the permissions granted when they were issued, so once an admin
   * has granted the missing one, only a new token sees it.
   */
  private refreshToken = false;

  constructor(
    private readonly http: IdpHttpClient,
    private readonly tokens: TokenCache,
    readonly base: string,
    readonly origin: string,
  ) {}

  url(path: string, query: Record<string, string> = {}): string {
    const params = Object.entries(query)
      .map(([key, value]) => `${key}=${encodeODataValue(value)}`)
      .join('&');
    return `${this.base}${path}${params ? `?${params}` : ''}`;
  }

  /** One GET with the bearer token; `accept` lists statuses returned rather than thrown. */
  async get(url: string, permission: GraphPermission, signal?: AbortSignal, accept?: number[]) {
    if (this.refreshToken) {
      this.refreshToken = false;
      await this.tokens.get(true);
    }
    try {
      return await this.tokens.withToken((token) =>
        this.http.getJson(url, { headers: { authorization: `Bearer ${token}` }, signal, acceptStatuses: accept }),
      );
    } catch (err) {
      if (err instanceof StallError && err.reason === 'AccessDenied') {
        this.refreshToken = true;
        throw missingPermission(err, permission);
      }
      throw err;
    }
  }

  async page<T>(url: string, permission: GraphPermission, signal?: AbortSignal): Promise<GraphPage<T>> {
    const res = await this.get(url, permission, signal);
    return parsePage<T>(res.body, url, this.origin);
  }

  /** Every item of a collection, following @odata.nextLink to the last page. */
  async all<T>(url: string, permission: GraphPermission, signal?: AbortSignal): Promise<T[]> {
    const items: T[] = [];
    for (let next: string | undefined = url; next; ) {
      const page: GraphPage<T> = await this.page<T>(next, permission, signal);
      items.push(...page.value);
      next = page.nextLink;
    }
    return items;
  }
}

/** Percent-encodes a query value, leaving the characters OData reads literally ($ and ,) alone. */
function encodeODataValue(value: string): string {
  return encodeURIComponent(value).replace(/%24/g, '$').replace(/%2C/g, ',');
}

export function missingPermission(err: StallError, permission: GraphPermission): StallError {
  return new StallError(
    'AccessDenied',
    `${err.message}. Grant the application permission ${permission} to the app registration and give admin consent`,
    { cause: err, missingPermission: permission },
  );
}
