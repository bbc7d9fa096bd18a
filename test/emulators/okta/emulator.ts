// An Okta org on 127.0.0.1: the management API endpoints idpsync reads, the org authorization
// server's token endpoint (client credentials with private_key_jwt), SSWS API tokens, Link-header
// paging, and Okta's rate-limit headers and errors.
import { generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify } from 'jose';
import { EmulatorBase, limitParam, type EmulatorConnection, type EmulatorRequest, type EmulatorResponse, type RateLimitAnswer } from '../common.js';
import type { DirectoryFixture, FixtureGroup, FixtureUser } from '../fixture.js';
import { appGroupJson, appUserJson, groupJson, oktaError, userJson } from './shapes.js';

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

  constructor(fixture: DirectoryFixture) {
    super(fixture);
    this.route('POST', '/oauth2/v1/token', (req) => this.limited(req, () => this.token(req)));
    this.api('/api/v1/users', 'okta.users.read', (req) => this.listUsers(req));
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
    // Without a filter or search, Okta leaves deprovisioned users out.
    const users = this.directory.users.filter((u) => u.state !== 'deleted');
    return this.page(req, users, (u) => userJson(u, this.baseUrl), this.pageLimits.users);
  }

  private listGroups(req: EmulatorRequest): EmulatorResponse {
    return this.page(req, this.directory.groups, (g) => groupJson(g, this.baseUrl), this.pageLimits.groups);
  }

  private getGroup(req: EmulatorRequest): EmulatorResponse {
    const group = this.group(req.params.groupId);
    return group ? { body: groupJson(group, this.baseUrl) } : this.notFound(req.params.groupId, 'UserGroup');
  }

  private listMembers(req: EmulatorRequest): EmulatorResponse {
    const group = this.group(req.params.groupId);
    if (!group) return this.notFound(req.params.groupId, 'UserGroup');
    // Okta has no nested groups: only direct members.
    const users = this.usersById();
    const members = (group.members ?? []).map((id) => users.get(id)).filter((u): u is FixtureUser => u !== undefined);
    return this.page(req, members, (u) => userJson(u, this.baseUrl), this.pageLimits.members);
  }

  private listAppUsers(req: EmulatorRequest): EmulatorResponse {
    const app = this.directory.apps?.find((a) => a.id === req.params.appId);
    if (!app) return this.notFound(req.params.appId, 'AppInstance');
    const assigned = new Map<string, 'USER' | 'GROUP'>();
    for (const id of app.users ?? []) assigned.set(id, 'USER');
    for (const groupId of app.groups ?? []) {
      for (const id of this.group(groupId)?.members ?? []) if (!assigned.has(id)) assigned.set(id, 'GROUP');
    }
    // Deactivating a user removes their app assignments.
    const byId = this.usersById();
    const users = [...assigned.keys()].map((id) => byId.get(id)).filter((u): u is FixtureUser => !!u && u.state !== 'deleted');
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
  private page<T extends { id: string }>(req: EmulatorRequest, items: T[], render: (item: T) => unknown, limits: PageLimit): EmulatorResponse {
    const limit = limitParam(req.url, 'limit', Math.min(limits.default, limits.max), limits.max);
    const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
    return this.directory.groups.find((g) => g.id === id);
  }

  /** Users by id; built per request because tests change the directory between fetches. */
  private usersById(): Map<string, FixtureUser> {
    return new Map(this.directory.users.map((u) => [u.id, u]));
  }
}

/** How many of the id-sorted items come at or before `after`. */
function countUpTo(sorted: { id: string }[], after: string): number {
  let n = 0;
  while (n < sorted.length && sorted[n].id <= after) n++;
  return n;
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
