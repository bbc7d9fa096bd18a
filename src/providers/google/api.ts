// The Admin SDK Directory API resources the driver reads, and how to page through them.
// Google omits a list's array when a page is empty, so "no array" is only trusted when the body
// is recognisably that list (its "kind"); anything else is an error, never an empty directory.
import { TransientError } from '../../errors.js';
import type { IdpHttpClient } from '../http.js';
import type { TokenCache } from '../token.js';

export interface GoogleUser {
  id: string;
  primaryEmail: string;
  name?: { givenName?: string; familyName?: string; fullName?: string };
  suspended?: boolean;
  suspensionReason?: string;
  archived?: boolean;
  orgUnitPath?: string;
}

export interface GoogleGroup {
  id: string;
  email: string;
  name?: string;
  description?: string;
}

export type MemberType = 'USER' | 'GROUP' | 'CUSTOMER' | (string & {});

export interface GoogleMember {
  /** Absent for CUSTOMER members in some answers; required for USER and GROUP. */
  id?: string;
  email?: string;
  type: MemberType;
  role?: string;
  status?: string;
}

export interface GoogleOrgUnit {
  orgUnitId: string;
  orgUnitPath: string;
  name: string;
  description?: string;
  parentOrgUnitId?: string;
  parentOrgUnitPath?: string;
}

export interface ListShape<T> {
  /** The "kind" of the list response, e.g. "admin#directory#users". */
  kind: string;
  /** The property holding the items. */
  field: string;
  /** What one item is called in messages. */
  noun: string;
  parse: (item: unknown) => T | undefined;
}

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const optStr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const USERS: ListShape<GoogleUser> = {
  kind: 'admin#directory#users',
  field: 'users',
  noun: 'user',
  parse: (item) => {
    if (!isObject(item) || !str(item.id) || !str(item.primaryEmail)) return undefined;
    const name = isObject(item.name) ? item.name : undefined;
    return {
      id: item.id as string,
      primaryEmail: item.primaryEmail as string,
      name: name && { givenName: optStr(name.givenName), familyName: optStr(name.familyName), fullName: optStr(name.fullName) },
      suspended: item.suspended === true,
      suspensionReason: optStr(item.suspensionReason),
      archived: item.archived === true,
      orgUnitPath: optStr(item.orgUnitPath),
    };
  },
};

export const GROUPS: ListShape<GoogleGroup> = {
  kind: 'admin#directory#groups',
  field: 'groups',
  noun: 'group',
  parse: (item) => {
    if (!isObject(item) || !str(item.id) || !str(item.email)) return undefined;
    return { id: item.id as string, email: item.email as string, name: optStr(item.name), description: optStr(item.description) };
  },
};

export const MEMBERS: ListShape<GoogleMember> = {
  kind: 'admin#directory#members',
  field: 'members',
  noun: 'member',
  parse: (item) => {
    if (!isObject(item) || !str(item.type)) return undefined;
    const type = item.type as string;
    if ((type === 'USER' || type === 'GROUP') && !str(item.id)) return undefined;
    return { id: optStr(item.id), email: optStr(item.email), type, role: optStr(item.role), status: optStr(item.status) };
  },
};

export const ORG_UNITS: ListShape<GoogleOrgUnit> = {
  kind: 'admin#directory#orgUnits',
  field: 'organizationUnits',
  noun: 'organizational unit',
  parse: (item) => {
    if (!isObject(item) || !str(item.orgUnitId) || !str(item.orgUnitPath)) return undefined;
    return {
      orgUnitId: item.orgUnitId as string,
      orgUnitPath: item.orgUnitPath as string,
      name: str(item.name) ?? (item.orgUnitPath as string),
      description: optStr(item.description),
      parentOrgUnitId: optStr(item.parentOrgUnitId),
      parentOrgUnitPath: optStr(item.parentOrgUnitPath),
    };
  },
};

/** Reads one page of a list response; throws MalformedResponse for anything that is not that list. */
export function readPage<T>(body: unknown, shape: ListShape<T>, where: string): Page<T> {
  const malformed = (what: string) => new TransientError('MalformedResponse', `Google: ${where} returned ${what}`);
  if (!isObject(body)) throw malformed(`no JSON object where a ${shape.kind} list was expected`);
  if (body.kind !== shape.kind) {
    throw malformed(`kind ${JSON.stringify(body.kind ?? null)} where ${shape.kind} was expected`);
  }
  const raw = body[shape.field];
  if (raw !== undefined && !Array.isArray(raw)) throw malformed(`"${shape.field}" that is not a list`);
  const items = ((raw as unknown[] | undefined) ?? []).map((item, i) => {
    const parsed = shape.parse(item);
    if (!parsed) throw malformed(`${shape.noun} #${i + 1} without the fields every ${shape.noun} has`);
    return parsed;
  });
  const next = body.nextPageToken;
  if (next !== undefined && typeof next !== 'string') throw malformed('a nextPageToken that is not a string');
  return { items, nextPageToken: next || undefined };
}

export class DirectoryApi {
  constructor(
    private readonly http: IdpHttpClient,
    private readonly tokens: TokenCache,
    /** e.g. https://admin.googleapis.com/ (with the trailing slash). */
    private readonly base: URL,
  ) {}

  url(path: string, params: Record<string, string | undefined> = {}): URL {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
    return url;
  }

  /** Fetches one page. Answers undefined for a 404 when `goneIsOk`. */
  async page<T>(url: URL, shape: ListShape<T>, signal?: AbortSignal, goneIsOk = false): Promise<Page<T> | undefined> {
    const res = await this.tokens.withToken((token) =>
      this.http.getJson(url, { headers: { authorization: `Bearer ${token}` }, signal, acceptStatuses: goneIsOk ? [404] : [] }),
    );
    if (res.status === 404) return undefined;
    return readPage(res.body, shape, `${url.origin}${url.pathname}`);
  }

  /** Follows nextPageToken to the last page. */
  async listAll<T>(url: URL, shape: ListShape<T>, signal?: AbortSignal): Promise<T[]> {
    return (await this.collect(url, shape, signal, false))!;
  }

  /** Like listAll, but answers undefined when the resource itself is gone (404 on the first page). */
  listAllUnlessGone<T>(url: URL, shape: ListShape<T>, signal?: AbortSignal): Promise<T[] | undefined> {
    return this.collect(url, shape, signal, true);
  }

  private async collect<T>(url: URL, shape: ListShape<T>, signal: AbortSignal | undefined, goneIsOk: boolean): Promise<T[] | undefined> {
    const items: T[] = [];
    const seen = new Set<string>();
    let pageUrl = url;
    for (;;) {
      // Only the first page may be a 404: a resource that vanishes half-way through is an error.
      const page = await this.page(pageUrl, shape, signal, goneIsOk && seen.size === 0);
      if (!page) return undefined;
      items.push(...page.items);
      if (!page.nextPageToken) return items;
      if (seen.has(page.nextPageToken)) {
        throw new TransientError('MalformedResponse', `Google: ${url.origin}${url.pathname} repeated a page token; the list never ends`);
      }
      seen.add(page.nextPageToken);
      pageUrl = new URL(url);
      pageUrl.searchParams.set('pageToken', page.nextPageToken);
    }
  }
}
