// Google Workspace driver: reads users, groups, their direct members (nested groups included) and,
// optionally, organisational units through the Admin SDK Directory API.
import type { Static } from '@sinclair/typebox';
import type { GoogleWorkspaceSettings as SettingsSchema } from '../../api/v1alpha1/directorysync.js';
import { StallError } from '../../errors.js';
import { IdpHttpClient } from '../http.js';
import { KnownPeople } from '../members.js';
import { checkUrlPolicy } from '../../util/http.js';
import { TokenCache } from '../token.js';
import { verifyOptions, type DriverContext, type FetchOptions, type ProviderDriver, type VerifyOptions, type VerifyResult } from '../types.js';
import { type DirectoryGroup, type DirectorySnapshot } from '../../directory/snapshot.js';
import { runProbes, type Probe } from '../verify.js';
import { DirectoryApi, GROUPS, MEMBERS, ORG_UNITS, USERS, type GoogleGroup, type GoogleMember, type ListShape } from './api.js';
import { DEFAULT_TOKEN_URL, DelegatedTokenIssuer, parseServiceAccountKey } from './auth.js';
import { orgUnitGroups, orgUnitIdsByPath, splitMembers, toDirectoryUser } from './model.js';
import { classify, errorText } from './responses.js';
import { SCOPES, scopesFor, type Resource } from './scopes.js';

/** spec.provider.googleWorkspace; `customer` may be absent when the apiserver's default was not applied. */
export type GoogleWorkspaceSettings = Omit<Static<typeof SettingsSchema>, 'customer'> & { customer?: string };

export const DEFAULT_BASE_URL = 'https://admin.googleapis.com/';
export const DEFAULT_CUSTOMER = 'my_customer';
/** Google's largest page sizes. */
const PAGE_SIZE = { users: '500', groups: '200', members: '200' } as const;

export function createGoogleWorkspaceDriver(ctx: DriverContext<GoogleWorkspaceSettings>): ProviderDriver {
  return new GoogleWorkspaceDriver(ctx);
}

interface Setup {
  issuer: DelegatedTokenIssuer;
  base: URL;
}

export class GoogleWorkspaceDriver implements ProviderDriver {
  readonly type = 'googleWorkspace';
  readonly http: IdpHttpClient;
  private setup?: Setup;
  private readonly tokenCaches = new Map<string, TokenCache>();
  /** For callers of verify() that do not say whether org units are synced (the older verify(signal)). */
  private lastFetchSyncOrgUnits = false;

  constructor(private readonly ctx: DriverContext<GoogleWorkspaceSettings>) {
    this.http = new IdpHttpClient({
      idpName: 'Google',
      caBundle: ctx.caBundle,
      allowInsecureLoopback: ctx.allowInsecureLoopback,
      errorText,
      classify,
      now: ctx.now,
      sleep: ctx.sleep,
      rateLimits: ctx.rateLimits,
    });
  }

  async fetch(options: FetchOptions): Promise<DirectorySnapshot> {
    const callsBefore = this.http.calls;
    this.lastFetchSyncOrgUnits = options.syncOrgUnits;
    const api = this.api(options.syncOrgUnits);
    const aborter = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, aborter.signal]) : aborter.signal;
    // The first failure cancels the requests still queued: a snapshot is whole or not at all.
    const guard = <T>(work: Promise<T>): Promise<T> =>
      work.catch((err: unknown) => {
        aborter.abort(err);
        throw err;
      });

    const where = this.whereParams();
    const [users, googleGroups, orgUnits] = await Promise.all([
      guard(api.listAll(api.url('admin/directory/v1/users', { ...where, maxResults: PAGE_SIZE.users }), USERS, signal)),
      guard(api.listAll(api.url('admin/directory/v1/groups', { ...where, maxResults: PAGE_SIZE.groups }), GROUPS, signal)),
      options.syncOrgUnits ? guard(api.listAll(this.orgUnitsUrl(api), ORG_UNITS, signal)) : Promise.resolve([]),
    ]);
    const memberLists = await Promise.all(
      googleGroups.map((group) => guard(api.listAllUnlessGone(this.membersUrl(api, group.id), MEMBERS, signal))),
    );

    // A group deleted between listing groups and reading its members answers 404: it is gone, not empty.
    const present = googleGroups
      .map((group, i) => ({ group, members: memberLists[i] }))
      .filter((g): g is { group: GoogleGroup; members: GoogleMember[] } => g.members !== undefined);
    const knownUsers = new KnownPeople(users.map((u) => u.id));
    const knownGroups = new Set(present.map((g) => g.group.id));
    const groups: DirectoryGroup[] = present.map(({ group, members }) => {
      const split = splitMembers(members, knownUsers, knownGroups);
      return {
        id: group.id,
        name: group.name || group.email,
        kind: 'Group',
        description: group.description || undefined,
        memberUserIds: split.userIds,
        memberGroupIds: split.groupIds,
      };
    });
    if (options.syncOrgUnits) groups.push(...orgUnitGroups(orgUnits, users));

    const unitIds = options.syncOrgUnits ? orgUnitIdsByPath(orgUnits) : undefined;
    return {
      users: users.map((u) => toDirectoryUser(u, unitIds)),
      groups,
      apiCalls: this.http.calls - callsBefore,
    };
  }

  async verify(options?: VerifyOptions | AbortSignal): Promise<VerifyResult> {
    const { signal, syncOrgUnits = this.lastFetchSyncOrgUnits } = verifyOptions(options);
    const setup = (): Setup => this.resolve();
    const where = () => this.whereParams();
    const api = () => this.api(syncOrgUnits);
    const read = (resource: Resource, url: () => URL, shape: ListShape<unknown>): Probe => ({
      name: () => `GET ${url().pathname}`,
      permission: SCOPES[resource],
      run: async (s) => void (await api().page(url(), shape, s)),
    });

    let groupsRead = false;
    let firstGroup: GoogleGroup | undefined;
    const probes: Probe[] = [
      {
        name: () => `POST ${setup().issuer.tokenUrl} (jwt-bearer as ${this.ctx.settings.impersonate})`,
        required: true,
        run: async () => void (await this.tokens(syncOrgUnits).get()),
      },
      read('users', () => api().url('admin/directory/v1/users', { ...where(), maxResults: '1' }), USERS),
      {
        name: 'GET /admin/directory/v1/groups',
        permission: SCOPES.groups,
        run: async (s) => {
          firstGroup = (await api().page(api().url('admin/directory/v1/groups', { ...where(), maxResults: '1' }), GROUPS, s))?.items[0];
          groupsRead = true;
        },
      },
      {
        name: () => `GET /admin/directory/v1/groups/${firstGroup ? encodeURIComponent(firstGroup.id) : '{groupKey}'}/members`,
        permission: SCOPES.members,
        onlyIf: () => groupsRead,
        run: async (s) => {
          if (!firstGroup) return { skipped: 'no group to read members of' };
          await api().page(this.membersUrl(api(), firstGroup.id, '1'), MEMBERS, s);
        },
      },
    ];
    if (syncOrgUnits) probes.push(read('orgUnits', () => this.orgUnitsUrl(api()), ORG_UNITS));
    try {
      return await runProbes(probes, { signal });
    } catch (err) {
      // Settings the driver cannot work with are a finding of verify, not a failure to verify.
      if (err instanceof StallError && err.reason === 'InvalidConfiguration' && !this.setup) {
        return { ok: false, checks: [{ name: 'configuration', ok: false, message: err.message }] };
      }
      throw err;
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private whereParams(): Record<string, string> {
    const { domain } = this.ctx.settings;
    // Google takes one or the other: a domain narrows the listing to that domain's users and groups.
    return domain ? { domain } : { customer: this.customer() };
  }

  private customer(): string {
    return this.ctx.settings.customer || DEFAULT_CUSTOMER;
  }

  private membersUrl(api: DirectoryApi, groupId: string, maxResults: string = PAGE_SIZE.members): URL {
    return api.url(`admin/directory/v1/groups/${encodeURIComponent(groupId)}/members`, { maxResults });
  }

  private orgUnitsUrl(api: DirectoryApi): URL {
    return api.url(`admin/directory/v1/customer/${encodeURIComponent(this.customer())}/orgunits`, { type: 'all' });
  }

  private api(syncOrgUnits: boolean): DirectoryApi {
    return new DirectoryApi(this.http, this.tokens(syncOrgUnits), this.resolve().base);
  }

  /** One cached token per scope set: turning org units on asks for a token with one more scope. */
  private tokens(syncOrgUnits: boolean): TokenCache {
    const scopes = scopesFor(syncOrgUnits);
    const key = scopes.join(' ');
    let cache = this.tokenCaches.get(key);
    if (!cache) {
      const { issuer } = this.resolve();
      cache = new TokenCache(() => issuer.issue(scopes), this.ctx.now);
      this.tokenCaches.set(key, cache);
    }
    return cache;
  }

  private resolve(): Setup {
    this.setup ??= this.configure();
    return this.setup;
  }

  private configure(): Setup {
    const { settings, credentials, allowInsecureLoopback } = this.ctx;
    if (!settings?.impersonate) {
      throw new StallError('InvalidConfiguration', 'spec.provider.googleWorkspace.impersonate (the admin the service account acts as) is required');
    }
    const key = parseServiceAccountKey(credentials.serviceAccountKey);
    const tokenUrl = checkUrlPolicy(settings.tokenUrl ?? key.token_uri ?? DEFAULT_TOKEN_URL, allowInsecureLoopback, 'Google token URL');
    const base = checkUrlPolicy(settings.baseUrl ?? DEFAULT_BASE_URL, allowInsecureLoopback, 'Google API base URL');
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    const issuer = new DelegatedTokenIssuer(
      { key, impersonate: settings.impersonate, tokenUrl, allowInsecureLoopback, now: this.ctx.now ?? Date.now },
      this.http,
    );
    return { issuer, base };
  }
}
