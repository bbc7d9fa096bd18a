// The JumpCloud endpoints the sync reads, each paged to the end and checked for shape.
import { StallError, TransientError } from '../../errors.js';
import type { IdpHttpClient, IdpResponse } from '../http.js';
import {
  parseArray,
  parseGraphConnection,
  parseGraphObject,
  parseSystemUserList,
  parseUserGroup,
  type GraphConnection,
  type GraphObject,
  type SystemUser,
  type UserGroup,
} from './model.js';
import { listAll, type Page } from '../offset-paging.js';

/** JumpCloud answers 400 to a larger limit, on v1 and v2 alike. */
export const MAX_PAGE_LIMIT = 100;

export const US_CONSOLE = 'https://console.jumpcloud.com';
export const EU_CONSOLE = 'https://console.eu.jumpcloud.com';

export interface JumpCloudApiOptions {
  /** Console origin, e.g. https://console.jumpcloud.com (no /api). */
  baseUrl: URL;
  apiKey: string;
  /** Sent as x-org-id: the organization a multi-tenant administrator's key acts in. */
  orgId?: string;
  pageLimit?: number;
}

export class JumpCloudApi {
  private readonly headers: Record<string, string>;
  private readonly pageLimit: number;

  constructor(
    private readonly http: IdpHttpClient,
    private readonly options: JumpCloudApiOptions,
  ) {
    this.headers = { 'x-api-key': options.apiKey };
    if (options.orgId) this.headers['x-org-id'] = options.orgId;
    this.pageLimit = Math.min(MAX_PAGE_LIMIT, Math.max(2, options.pageLimit ?? MAX_PAGE_LIMIT));
  }

  url(path: string, query: Record<string, string | number> = {}): URL {
    // Relative to the base so a proxy prefix in baseUrl (https://proxy/jumpcloud/) is kept.
    const url = new URL(path.replace(/^\/+/, ''), this.options.baseUrl);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, String(value));
    return url;
  }

  get(url: URL, signal?: AbortSignal, acceptStatuses?: number[]): Promise<IdpResponse<unknown>> {
    return this.http.getJson(url, { headers: this.headers, signal, acceptStatuses });
  }

  /** Every system user, sorted by _id as JumpCloud recommends for skip paging. */
  listUsers(signal?: AbortSignal): Promise<SystemUser[]> {
    const what = 'GET /api/systemusers';
    return listAll(
      async (skip, limit): Promise<Page<SystemUser>> => {
        const res = await this.get(this.url('/api/systemusers', { limit, skip, sort: '_id' }), signal);
        const list = parseSystemUserList(res.body);
        return { items: list.results, totalCount: list.totalCount };
      },
      { idpName: 'JumpCloud', limit: this.pageLimit, id: (u) => u._id, what },
    );
  }

  listGroups(signal?: AbortSignal): Promise<UserGroup[]> {
    const what = 'GET /api/v2/usergroups';
    return listAll(
      async (skip, limit) => {
        const res = await this.get(this.url('/api/v2/usergroups', { limit, skip, sort: '_id' }), signal);
        return { items: parseArray(res.body, what).map(parseUserGroup) };
      },
      { idpName: 'JumpCloud', limit: this.pageLimit, id: (g) => g.id, what },
    );
  }

  /** Direct members of one user group. */
  listMembers(groupId: string, signal?: AbortSignal): Promise<GraphConnection[]> {
    const path = `/api/v2/usergroups/${encodeURIComponent(groupId)}/members`;
    const what = `GET ${path}`;
    return listAll(
      async (skip, limit) => {
        const res = await this.get(this.url(path, { limit, skip }), signal, [404]);
        if (res.status === 404) {
          // Listed a moment ago, gone now: the directory changed under the sync, which a later one will see whole.
          throw new TransientError('IdpUnavailable', `JumpCloud: user group ${groupId} disappeared while its members were being read`);
        }
        return { items: parseArray(res.body, what).map((m) => parseGraphConnection(m, what)) };
      },
      { idpName: 'JumpCloud', limit: this.pageLimit, id: (m) => `${m.to.type}/${m.to.id}`, what },
    );
  }

  /** Users bound to an application, directly or through a user group. */
  applicationUsers(applicationId: string, signal?: AbortSignal): Promise<GraphObject[]> {
    return this.listBound(applicationId, 'users', signal);
  }

  /** User groups bound to an application. */
  applicationGroups(applicationId: string, signal?: AbortSignal): Promise<GraphObject[]> {
    return this.listBound(applicationId, 'usergroups', signal);
  }

  private listBound(applicationId: string, target: 'users' | 'usergroups', signal?: AbortSignal): Promise<GraphObject[]> {
    const path = `/api/v2/applications/${encodeURIComponent(applicationId)}/${target}`;
    const what = `GET ${path}`;
    return listAll(
      async (skip, limit) => {
        const res = await this.get(this.url(path, { limit, skip }), signal, [404]);
        if (res.status === 404) throw applicationNotFound(applicationId);
        return { items: parseArray(res.body, what).map((o) => parseGraphObject(o, what)) };
      },
      { idpName: 'JumpCloud', limit: this.pageLimit, id: (o) => `${o.type}/${o.id}`, what },
    );
  }
}

export function applicationNotFound(applicationId: string): StallError {
  return new StallError(
    'InvalidConfiguration',
    `JumpCloud: application ${applicationId} (spec.provider.jumpcloud.applicationId) was not found in this organization`,
  );
}
