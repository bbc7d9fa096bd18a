// An Okta org on 127.0.0.1: the management API endpoints idpsync reads, the org authorization
// server's token endpoint (client credentials with private_key_jwt), SSWS API tokens, Link-header
// paging, and Okta's rate-limit headers and errors.
import { generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify } from 'jose';
import { EmulatorBase, limitParam, type EmulatorConnection, type EmulatorRequest, type EmulatorResponse, type RateLimitAnswer } from '../common.js';
import type { DirectoryFixture, FixtureGroup, FixtureUser } from '../fixture.js';
import { Resolution, sameItems } from '../cache.js';
import { appGroupJson, appUserJson, groupJson, oktaError, userJson, type Stamps } from './shapes.js';
import { parseFilter, type Clause } from './filter.js';

export type OktaScope = 'okta.users.read' | 'okta.groups.read' | 'okta.apps.read';
export const ALL_SCOPES: OktaScope[] = ['okta.users.read', 'okta.groups.read', 'okta.apps.read'];

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const SIGNING_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

interface PageLimit {
  default: number;
  max: number;
}

interface IssuedToken {
  clientId: string;
  scopes: Set<string>;
  expiresAt: number;
}

interface Window {
  start: number;
  used: number;
}

export class OktaEmulator extends EmulatorBase {
  readonly clientId = '0oa1idpsyncservice7';
  /** Scopes granted to the service app ("Okta API Scopes" tab). */
  grantedScopes = new Set<string>(ALL_SCOPES);
  /** Permissions the admin role of the app or API token lacks: a 403 without insufficient_scope. */
  deniedPermissions = new Set<OktaScope>();
  /** Requests per minute per endpoint family (users, groups, apps, token). */
  rateLimitPerMinute = 10_000;
  /** How far ahead X-Rate-Limit-Reset points in an injected 429. */
  injectedResetSeconds = 1;
  tokenLifetimeSeconds = 3600;
  /** Answer token requests without a DPoP header with invalid_dpop_proof. */
  requireDpop = false;
  /** Page sizes per endpoint; tests lower `max` to force many pages. */
  readonly pageLimits: Record<'users' | 'groups' | 'members' | 'appUsers' | 'appGroups', PageLimit> = {
    users: { default: 200, max: 200 },
    groups: { default: 10_000, max: 10_000 },
    members: { default: 1000, max: 1000 },
    appUsers: { default: 50, max: 500 },
    appGroups: { default: 20, max: 200 },
  };
  now: () => number = Date.now;

  private readonly clients = new Map<string, JsonWebKey>();
  private readonly apiTokens = new Set<string>();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly usedJtis = new Set<string>();
  private readonly windows = new Map<string, Window>();
  private privateKeyPem?: string;
  /** What each user and group looked like when last observed, and when that changed (Okta's lastUpdated). */
  private readonly seen = { users: new Map<string, Seen>(), groups: new Map<string, Seen>(), members: new Map<string, SeenMembers>() };
  /** The user ids of the last observation: while they stay the same, an unchanged member list needs no check per member. */
  private observedUserIds?: Set<string>;
  private readonly sortedCache = new WeakMap<object, { copy: unknown[]; sorted: unknown[] }>();

  constructor(fixture: DirectoryFixture) {
    super(fixture);
    this.observe(true);
    this.route('POST', '/oauth2/v1/token', (req) => this.limited(req, () => this.token(req)));
    this.api('/api/v1/users', 'okta.users.read', (req) => this.listUsers(req));
    this.api('/api/v1/users/:userId', 'okta.users.read', (req) => this.getUser(req));
    this.api('/api/v1/groups', 'okta.groups.read', (req) => this.listGroups(req));
    this.api('/api/v1/groups/:groupId', 'okta.groups.read', (req) => this.getGroup(req));
    this.api('/api/v1/groups/:groupId/users', 'okta.groups.read', (req) => this.listMembers(req));
    this.api('/api/v1/apps/:appId/users', 'okta.apps.read', (req) => this.listAppUsers(req));
    this.api('/api/v1/apps/:appId/groups', 'okta.apps.read', (req) => this.listAppGroups(req));
  }

  get tokenUrl(): string {
    return `${this.baseUrl}/oauth2/v1/token`;
  }

  /** Registers a service app's public key (Client Credentials → Public key / Private key). */
  registerClient(clientId: string, publicJwk: JsonWebKey): void {
    this.clients.set(clientId, publicJwk);
  }

  /** Creates an SSWS API token with the full permissions of its admin (less deniedPermissions). */
  createApiToken(): string {
    const token = `00${randomBytes(20).toString('base64url')}`;
    this.apiTokens.add(token);
    return token;
  }

  override expireTokens(): boolean {
    this.revokeTokens();
    return true;
  }

  /** Makes every access token issued so far invalid (as if revoked), so the next API call gets a 401. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  /** Token requests served so far. */
  get tokenRequests(): number {
    return this.count('/oauth2/v1/token');
  }

  connection(options: { appId?: string; auth?: 'privateKey' | 'apiToken' } = {}): EmulatorConnection {
    const settings = { domain: '127.0.0.1', clientId: this.clientId, baseUrl: this.baseUrl, ...(options.appId ? { appId: options.appId } : {}) };
    if (options.auth === 'apiToken') return { type: 'okta', settings, secret: { apiToken: this.createApiToken() } };
    if (!this.privateKeyPem) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      this.privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      this.registerClient(this.clientId, publicKey.export({ format: 'jwk' }));
    }
    return { type: 'okta', settings, secret: { privateKey: this.privateKeyPem } };
  }

  protected rateLimitAnswer(): RateLimitAnswer {
    const reset = Math.ceil(this.now() / 1000) + this.injectedResetSeconds;
    return {
      status: 429,
      headers: rateLimitHeaders(this.rateLimitPerMinute, 0, reset),
      body: oktaError('E0000047', 'API call exceeded rate limit due to too many requests.'),
    };
  }

  protected errorBody(status: number, message: string): unknown {
    if (status === 404) return oktaError('E0000007', `Not found: ${message}`);
    if (status === 401) return oktaError('E0000011', 'Invalid token provided');
    if (status === 403) return oktaError('E0000006', 'You do not have permission to perform the requested action');
    if (status >= 500) return oktaError('E0000009', `Internal Server Error: ${message}`);
    return oktaError('E0000001', `Api validation failed: ${message}`);
  }

  // --- Rate limits ---------------------------------------------------------------------------

  private limited(req: EmulatorRequest, answer: () => EmulatorResponse | Promise<EmulatorResponse>): Promise<EmulatorResponse> | EmulatorResponse {
    const family = /^\/(oauth2\/v1\/token|api\/v1\/[a-z]+)/.exec(req.url.pathname)?.[1] ?? req.url.pathname;
    const minute = Math.floor(this.now() / 60_000) * 60_000;
    let window = this.windows.get(family);
    if (!window || window.start !== minute) this.windows.set(family, (window = { start: minute, used: 0 }));
    const reset = (minute + 60_000) / 1000;
    if (window.used >= this.rateLimitPerMinute) {
      return {
        status: 429,
        headers: rateLimitHeaders(this.rateLimitPerMinute, 0, reset),
        body: oktaError('E0000047', 'API call exceeded rate limit due to too many requests.'),
      };
    }
    window.used++;
    const headers = rateLimitHeaders(this.rateLimitPerMinute, this.rateLimitPerMinute - window.used, reset);
    return Promise.resolve(answer()).then((res) => ({ ...res, headers: { ...headers, ...res.headers } }));
  }

  // --- Token endpoint ------------------------------------------------------------------------

  private async token(req: EmulatorRequest): Promise<EmulatorResponse> {
    const form = req.form;
    if (form.get('grant_type') !== 'client_credentials') {
      return oauthError(400, 'unsupported_grant_type', 'The authorization grant type is not supported by the authorization server.');
    }
    if (form.get('client_assertion_type') !== ASSERTION_TYPE || !form.get('client_assertion')) {
      return oauthError(401, 'invalid_client', 'Client authentication failed: a client_assertion of type jwt-bearer is required.');
    }
    const checked = await this.checkAssertion(form.get('client_assertion')!, form.get('client_id'));
    if (typeof checked !== 'string') return checked;
    if (this.requireDpop && !req.headers.dpop) {
      return oauthError(400, 'invalid_dpop_proof', 'The DPoP proof JWT header is missing.');
    }
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    if (scopes.length === 0) return oauthError(400, 'invalid_scope', 'The authorization server resource does not have any configured default scopes, \'scope\' must be provided.');
    if (scopes.some((s) => !this.grantedScopes.has(s))) {
      return oauthError(400, 'invalid_scope', 'The requested scope is invalid, unknown, or malformed.');
    }
    const accessToken = randomBytes(32).toString('base64url');
    this.tokens.set(accessToken, { clientId: checked, scopes: new Set(scopes), expiresAt: this.now() + this.tokenLifetimeSeconds * 1000 });
    return {
      headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
      body: { token_type: 'Bearer', expires_in: this.tokenLifetimeSeconds, access_token: accessToken, scope: scopes.join(' ') },
    };
  }

  /** Returns the authenticated client id, or the error to answer with. */
  private async checkAssertion(assertion: string, formClientId: string | null): Promise<string | EmulatorResponse> {
    let issuer: string | undefined;
    let kid: string | undefined;
    try {
      issuer = decodeJwt(assertion).iss;
      kid = decodeProtectedHeader(assertion).kid;
    } catch {
      return oauthError(401, 'invalid_client', 'The client_assertion is not a valid JWT.');
    }
    const jwk = issuer ? this.clients.get(issuer) : undefined;
    if (!issuer || !jwk || (formClientId && formClientId !== issuer)) {
      return oauthError(401, 'invalid_client', "Invalid value for 'client_id' parameter.");
    }
    if (kid && jwk.kid && kid !== jwk.kid) {
      return oauthError(401, 'invalid_client', 'The client_assertion signature is invalid.');
    }
    try {
      const alg = decodeProtectedHeader(assertion).alg ?? 'RS256';
      const { payload } = await jwtVerify(assertion, await importJWK(jwk as Parameters<typeof importJWK>[0], alg), {
        algorithms: SIGNING_ALGORITHMS,
        issuer,
        subject: issuer,
        audience: this.tokenUrl,
        requiredClaims: ['exp', 'jti'],
        currentDate: new Date(this.now()),
      });
      if (this.usedJtis.has(payload.jti!)) {
        return oauthError(401, 'invalid_client', "The client_assertion token has already been used. Use a unique 'jti' for every assertion.");
      }
      this.usedJtis.add(payload.jti!);
      return issuer;
    } catch (err) {
      if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JOSEAlgNotAllowed) {
        return oauthError(401, 'invalid_client', 'The client_assertion signature is invalid.');
      }
      if (err instanceof joseErrors.JWTExpired) return oauthError(401, 'invalid_client', 'The client_assertion token is expired.');
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'aud') {
        return oauthError(401, 'invalid_client', 'The audience claim for client_assertion must be the endpoint invoked for the request.');
      }
      return oauthError(401, 'invalid_client', `The client_assertion is invalid: ${(err as Error).message}`);
    }
  }

  // --- Management API ------------------------------------------------------------------------

  private api(path: string, scope: OktaScope, handler: (req: EmulatorRequest) => EmulatorResponse): void {
    this.route('GET', path, (req) => this.limited(req, () => this.authorize(req, scope) ?? handler(req)));
  }

  private authorize(req: EmulatorRequest, scope: OktaScope): EmulatorResponse | undefined {
    const header = String(req.headers.authorization ?? '');
    const [scheme, credential] = header.split(' ', 2);
    const invalid: EmulatorResponse = {
      status: 401,
      headers: { 'www-authenticate': `Bearer realm="IdP", error="invalid_token", error_description="The access token is invalid."` },
      body: oktaError('E0000011', 'Invalid token provided'),
    };
    if (scheme === 'SSWS') {
      if (!this.apiTokens.has(credential)) return invalid;
    } else if (scheme === 'Bearer') {
      const token = this.tokens.get(credential);
      if (!token || token.expiresAt <= this.now()) return invalid;
      if (!token.scopes.has(scope)) {
        return {
          status: 403,
          headers: {
            'www-authenticate':
              `Bearer authorization_uri="${this.baseUrl}/oauth2/v1/authorize", realm="${this.baseUrl}", scope="${scope}", ` +
              `error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="${req.url.pathname}"`,
          },
          body: oktaError('E0000006', 'You do not have permission to perform the requested action'),
        };
      }
    } else {
      return invalid;
    }
    if (this.deniedPermissions.has(scope)) {
      return { status: 403, body: oktaError('E0000006', 'You do not have permission to perform the requested action') };
    }
    return undefined;
  }

  private listUsers(req: EmulatorRequest): EmulatorResponse {
    if (!req.url.searchParams.has('after')) this.observe();
    const filter = this.filterOf(req, USER_FILTER_FIELDS);
    if (!Array.isArray(filter)) return filter;
    // Without a filter or search, Okta leaves deprovisioned users out; a filter evaluates every status.
    const candidates = this.sortedById(this.directory.users);
    const users = filter.length === 0 ? candidates.filter((u) => u.state !== 'deleted') : candidates.filter((u) => this.matches(filter, this.userFields(u)));
    return this.page(req, users, (u) => userJson(u, this.baseUrl, this.userStamps(u.id)), this.pageLimits.users, true);
  }

  private listGroups(req: EmulatorRequest): EmulatorResponse {
    if (!req.url.searchParams.has('after')) this.observe();
    const filter = this.filterOf(req, GROUP_FILTER_FIELDS);
    if (!Array.isArray(filter)) return filter;
    const candidates = this.sortedById(this.directory.groups);
    const groups = filter.length === 0 ? candidates : candidates.filter((g) => this.matches(filter, this.groupFields(g)));
    return this.page(req, groups, (g) => groupJson(g, this.baseUrl, this.groupStamps(g.id)), this.pageLimits.groups, true);
  }

  /** One user by id, deprovisioned ones included; a user deleted outright is a 404. */
  private getUser(req: EmulatorRequest): EmulatorResponse {
    const user = this.findById(this.directory.users, req.params.userId);
    if (user) this.observeUser(user, new Date(this.now()).toISOString());
    return user ? { body: userJson(user, this.baseUrl, this.userStamps(user.id)) } : this.notFound(req.params.userId, 'User');
  }

  private getGroup(req: EmulatorRequest): EmulatorResponse {
    const group = this.group(req.params.groupId);
    if (group) this.observeGroup(group, new Date(this.now()).toISOString());
    return group ? { body: groupJson(group, this.baseUrl, this.groupStamps(group.id)) } : this.notFound(req.params.groupId, 'UserGroup');
  }

  // --- lastUpdated and filters ---------------------------------------------------------------

  /**
   * Notes the time of every change to a user, a group's profile or a group's members since the last
   * observation: Okta's lastUpdated and lastMembershipUpdated. Tests change `directory` in place, so
   * the emulator compares what it sees with what it saw, at the start of each listing and on
   * each group read; a change is therefore stamped no earlier than it was made and no later than the
   * first read that could show it. At construction everything gets the fixed fixture timestamp.
   */
  observe(initial = false): void {
    const at = initial ? undefined : new Date(this.now()).toISOString();
    for (const u of this.directory.users) this.observeUser(u, at);
    const users = new Set(this.directory.users.map((u) => u.id));
    const sameUsers = this.observedUserIds !== undefined && sameSet(this.observedUserIds, users);
    this.observedUserIds = users;
    for (const g of this.directory.groups) this.observeGroup(g, at, (id) => users.has(id), sameUsers);
    const groups = new Set(this.directory.groups.map((g) => g.id));
    for (const id of this.seen.users.keys()) if (!users.has(id)) this.seen.users.delete(id);
    for (const map of [this.seen.groups, this.seen.members]) for (const id of map.keys()) if (!groups.has(id)) map.delete(id);
  }

  private observeUser(u: FixtureUser, at: string | undefined): void {
    const before = this.seen.users.get(u.id);
    if (before?.fields && sameFields(before.fields, u)) return;
    note(this.seen.users, u.id, JSON.stringify(u), at, structuredClone(u));
  }

  private observeGroup(g: FixtureGroup, at: string | undefined, isUser = (id: string) => this.findById(this.directory.users, id) !== undefined, sameUsers = false): void {
    note(this.seen.groups, g.id, JSON.stringify([g.name, g.description ?? null]), at);
    // Deleting a user takes them out of their groups, which is a membership change. Lists are compared
    // item by item, not joined into strings, and not filtered again while neither they nor the set of
    // users changed: at 100,000 people that is a million ids per listing.
    const listed = g.members ?? [];
    const before = this.seen.members.get(g.id);
    if (sameUsers && before && sameItems(before.listed, listed)) return;
    const members = listed.filter(isUser);
    if (!before || !sameItems(before.value, members)) this.seen.members.set(g.id, { value: members, listed: [...listed], at });
    else before.listed = [...listed];
  }

  private userStamps(id: string): Stamps {
    return { lastUpdated: this.seen.users.get(id)?.at };
  }

  private groupStamps(id: string): Stamps {
    return { lastUpdated: this.seen.groups.get(id)?.at, lastMembershipUpdated: this.seen.members.get(id)?.at };
  }

  private userFields(u: FixtureUser): Record<string, string> {
    const json = userJson(u, this.baseUrl, this.userStamps(u.id)) as { status: string; lastUpdated: string; profile: Record<string, string> };
    return { id: u.id, status: json.status, lastUpdated: json.lastUpdated, 'profile.login': u.login, 'profile.email': json.profile.email };
  }

  private groupFields(g: FixtureGroup): Record<string, string> {
    const json = groupJson(g, this.baseUrl, this.groupStamps(g.id)) as Record<string, string>;
    return { id: g.id, type: json.type, lastUpdated: json.lastUpdated, lastMembershipUpdated: json.lastMembershipUpdated };
  }

  /** The request's `filter` as clauses (none without one), or Okta's 400 for an expression it does not support. */
  private filterOf(req: EmulatorRequest, fields: readonly string[]): Clause[][] | EmulatorResponse {
    const text = req.url.searchParams.get('filter');
    if (text === null) return [];
    const parsed = parseFilter(text, fields);
    if (typeof parsed === 'string') return { status: 400, body: oktaError('E0000031', `Invalid search criteria. ${parsed}`) };
    return parsed;
  }

  /** Clauses are OR-ed groups of AND-ed comparisons; timestamps compare as instants. */
  private matches(filter: Clause[][], fields: Record<string, string>): boolean {
    return filter.some((all) =>
      all.every((c) => {
        const value = fields[c.field];
        if (value === undefined) return false;
        if (c.op === 'eq' && !c.field.startsWith('last')) return value === c.value;
        const diff = Date.parse(value) - Date.parse(c.value);
        return c.op === 'eq' ? diff === 0 : c.op === 'gt' ? diff > 0 : c.op === 'ge' ? diff >= 0 : c.op === 'lt' ? diff < 0 : diff <= 0;
      }),
    );
  }

  private listMembers(req: EmulatorRequest): EmulatorResponse {
    const group = this.group(req.params.groupId);
    if (!group) return this.notFound(req.params.groupId, 'UserGroup');
    // Okta has no nested groups: only direct members.
    return this.page(req, this.membersOf(group, !req.url.searchParams.has('after')), (u) => userJson(u, this.baseUrl, this.userStamps(u.id)), this.pageLimits.members, true);
  }

  /**
   * A group's members as users, ordered by id. Kept between the pages of one listing while the group
   * lists the same ids, and between listings while each id still finds the same user (or still none):
   * a group of 100,000 is listed in a hundred pages, and resolving and sorting it again for each one made
   * a large directory's read quadratic.
   */
  private membersOf(group: FixtureGroup, firstPage: boolean): FixtureUser[] {
    const listed = group.members ?? [];
    const cached = this.resolvedMembers.get(group);
    const find = (id: string) => this.findById(this.directory.users, id);
    if (cached && (firstPage ? cached.resolution.stillFound(listed, find) : sameItems(cached.ids, listed))) return cached.sorted;
    const ids = [...listed];
    const resolution = new Resolution<FixtureUser>(ids, find, []);
    const sorted = resolution.found.filter((u): u is FixtureUser => u !== undefined).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.resolvedMembers.set(group, { ids, resolution, sorted });
    return sorted;
  }

  private readonly resolvedMembers = new WeakMap<FixtureGroup, { ids: string[]; resolution: Resolution<FixtureUser>; sorted: FixtureUser[] }>();

  private listAppUsers(req: EmulatorRequest): EmulatorResponse {
    const app = this.directory.apps?.find((a) => a.id === req.params.appId);
    if (!app) return this.notFound(req.params.appId, 'AppInstance');
    const assigned = new Map<string, 'USER' | 'GROUP'>();
    for (const id of app.users ?? []) assigned.set(id, 'USER');
    for (const groupId of app.groups ?? []) {
      for (const id of this.group(groupId)?.members ?? []) if (!assigned.has(id)) assigned.set(id, 'GROUP');
    }
    // Deactivating a user removes their app assignments.
    const users = [...assigned.keys()].map((id) => this.findById(this.directory.users, id)).filter((u): u is FixtureUser => !!u && u.state !== 'deleted');
    const expand = req.url.searchParams.get('expand') === 'user';
    return this.page(req, users, (u) => appUserJson(u, app.id, assigned.get(u.id)!, this.baseUrl, expand), this.pageLimits.appUsers);
  }

  private listAppGroups(req: EmulatorRequest): EmulatorResponse {
    const app = this.directory.apps?.find((a) => a.id === req.params.appId);
    if (!app) return this.notFound(req.params.appId, 'AppInstance');
    const groups = (app.groups ?? []).map((id) => this.group(id)).filter((g): g is FixtureGroup => g !== undefined);
    const expand = req.url.searchParams.get('expand') === 'group';
    return this.page(req, groups, (g) => appGroupJson(g, app.id, groups.indexOf(g), this.baseUrl, expand), this.pageLimits.appGroups);
  }

  /** One page, ordered by id, continuing after the `after` cursor, with Okta's Link headers. */
  private page<T extends { id: string }>(req: EmulatorRequest, items: T[], render: (item: T) => unknown, limits: PageLimit, alreadySorted = false): EmulatorResponse {
    const limit = limitParam(req.url, 'limit', Math.min(limits.default, limits.max), limits.max);
    const sorted = alreadySorted ? items : this.sortedById(items);
    const after = req.url.searchParams.get('after');
    const start = after === null ? 0 : countUpTo(sorted, after);
    const page = sorted.slice(start, start + limit);
    const self = new URL(req.url.pathname + req.url.search, this.baseUrl);
    const links = [`<${self.href}>; rel="self"`];
    if (start + limit < sorted.length && page.length > 0) {
      const next = new URL(self);
      next.searchParams.delete('after');
      next.searchParams.delete('limit');
      next.searchParams.set('after', page[page.length - 1].id);
      next.searchParams.set('limit', String(limit));
      links.push(`<${next.href}>; rel="next"`);
    }
    return { headers: { link: links.join(', ') }, body: page.map(render) };
  }

  private notFound(id: string, kind: string): EmulatorResponse {
    return { status: 404, body: oktaError('E0000007', `Not found: Resource not found: ${id} (${kind})`) };
  }

  private group(id: string): FixtureGroup | undefined {
    return this.findById(this.directory.groups, id);
  }

  /**
   * The item with this id. Tests change the directory between requests (push, filter, replace), so
   * the index of positions is checked on every hit (the item there must still have that id) and
   * rebuilt on a stale hit or on a miss after the array changed length.
   */
  private findById<T extends { id: string }>(items: T[], id: string): T | undefined {
    let cached = this.positions.get(items);
    for (let attempt = 0; attempt < 2; attempt++) {
      if (cached) {
        const at = cached.index.get(id);
        if (at !== undefined && items[at]?.id === id) return items[at];
        if (at === undefined && cached.length === items.length) return undefined;
      }
      cached = { length: items.length, index: new Map(items.map((item, i) => [item.id, i])) };
      this.positions.set(items, cached);
    }
    return undefined;
  }

  private readonly positions = new WeakMap<object, { length: number; index: Map<string, number> }>();

  /**
   * `items` ordered by id. Tests change the directory between requests, so the order is kept only
   * while the array holds exactly the same objects (checked by reference, which is cheap even at 100k).
   */
  private sortedById<T extends { id: string }>(items: T[]): T[] {
    const cached = this.sortedCache.get(items);
    if (cached && cached.copy.length === items.length && items.every((item, i) => item === cached.copy[i])) return cached.sorted as T[];
    const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.sortedCache.set(items, { copy: [...items], sorted });
    return sorted;
  }

}

function note(map: Map<string, Seen>, id: string, value: string, at: string | undefined, fields?: object): void {
  const before = map.get(id);
  if (before?.value !== value) map.set(id, { value, at, fields });
  else if (fields) before.fields = fields;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const item of a) if (!b.has(item)) return false;
  return true;
}

/** The same own fields with the same values; a field holding an object is compared as JSON. */
function sameFields(before: object, now: object): boolean {
  const a = before as Record<string, unknown>;
  const b = now as Record<string, unknown>;
  const keys = Object.keys(b);
  if (keys.length !== Object.keys(a).length) return false;
  for (const k of keys) {
    if (a[k] === b[k]) continue;
    if (typeof b[k] !== 'object' || b[k] === null || JSON.stringify(a[k]) !== JSON.stringify(b[k])) return false;
  }
  return true;
}

interface SeenMembers {
  /** The members that are users, as last seen. */
  value: readonly string[];
  /** The group's member list as it was then, unfiltered. */
  listed: readonly string[];
  at?: string;
}

interface Seen {
  value: string;
  /** When the value was first seen as it is now; undefined for what the fixture started with. */
  at?: string;
  /** A user as last seen (a deep copy, so a change inside a nested value shows), to tell at a glance that nothing changed. */
  fields?: object;
}

const USER_FILTER_FIELDS = ['id', 'status', 'lastUpdated', 'profile.login', 'profile.email'] as const;
const GROUP_FILTER_FIELDS = ['id', 'type', 'lastUpdated', 'lastMembershipUpdated'] as const;

/** How many of the id-sorted items come at or before `after` (binary search: ids are unique and sorted). */
function countUpTo(sorted: { id: string }[], after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid].id <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function rateLimitHeaders(limit: number, remaining: number, resetEpochSeconds: number): Record<string, string> {
  return {
    'x-rate-limit-limit': String(limit),
    'x-rate-limit-remaining': String(Math.max(0, remaining)),
    'x-rate-limit-reset': String(resetEpochSeconds),
  };
}

function oauthError(status: number, error: string, description: string): EmulatorResponse {
  return { status, headers: { 'cache-control': 'no-store' }, body: { error, error_description: description } };
}
