// A Google Workspace emulator: Google's OAuth token endpoint for service accounts with domain-wide
// delegation, and the Admin SDK Directory API list endpoints (users, groups, members, org units),
// answering in Google's own JSON shapes, page sizes and error bodies.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { EmulatorBase, limitParam, pageOf, type EmulatorConnection, type EmulatorRequest, type EmulatorResponse, type RateLimitAnswer } from '../common.js';
import type { DirectoryFixture } from '../fixture.js';
import { IdIndex } from '../cache.js';
import { domainOf, etag, GoogleDirectoryView, type ViewIndexes } from './resources.js';

const SCOPE = (s: string) => `https://www.googleapis.com/auth/${s}`;
export const READ_ONLY_SCOPES = [
  SCOPE('admin.directory.user.readonly'),
  SCOPE('admin.directory.group.readonly'),
  SCOPE('admin.directory.group.member.readonly'),
  SCOPE('admin.directory.orgunit.readonly'),
];

/** Scopes Google accepts for each list call (the read-only one or its read-write sibling). */
const ENDPOINT_SCOPES = {
  users: [SCOPE('admin.directory.user.readonly'), SCOPE('admin.directory.user')],
  groups: [SCOPE('admin.directory.group.readonly'), SCOPE('admin.directory.group')],
  members: [
    SCOPE('admin.directory.group.member.readonly'),
    SCOPE('admin.directory.group.member'),
    SCOPE('admin.directory.group.readonly'),
    SCOPE('admin.directory.group'),
  ],
  orgUnits: [SCOPE('admin.directory.orgunit.readonly'), SCOPE('admin.directory.orgunit')],
};

/** Google's maxResults ceilings (and defaults). */
const PAGE_LIMITS = { users: { fallback: 100, max: 500 }, groups: { fallback: 200, max: 200 }, members: { fallback: 200, max: 200 } };

const STATUS_NAMES: Record<number, [reason: string, status: string]> = {
  400: ['badRequest', 'INVALID_ARGUMENT'],
  401: ['authError', 'UNAUTHENTICATED'],
  403: ['forbidden', 'PERMISSION_DENIED'],
  404: ['notFound', 'NOT_FOUND'],
  429: ['rateLimitExceeded', 'RESOURCE_EXHAUSTED'],
  500: ['backendError', 'INTERNAL'],
  503: ['backendError', 'UNAVAILABLE'],
};

interface ServiceAccount {
  keyId: string;
  publicKey: KeyObject;
}

interface IssuedToken {
  subject: string;
  scopes: Set<string>;
  expiresAt: number;
}

export interface ServiceAccountKeyFile {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
}

export class GoogleWorkspaceEmulator extends EmulatorBase {
  readonly customerId = 'C03az79cb';
  readonly domain: string;
  /** Accounts with an admin role; the service account may act as them. Not listed as users. */
  readonly admins = new Set<string>();
  /** Scopes authorised for domain-wide delegation in the emulated Admin console. */
  delegatedScopes = new Set(READ_ONLY_SCOPES);
  /** Users shown as archived. */
  readonly archived = new Set<string>();
  /** Groups deleted after the groups list was read: still listed, but their members answer 404. */
  readonly deletedMidSync = new Set<string>();
  /** Serve at most this many items per page, below Google's own ceilings (to exercise paging). */
  maxPageSize?: number;
  /** How quota exhaustion is answered: a 403 userRateLimitExceeded (the usual) or a 429 rateLimitExceeded. */
  quotaAnswer: 403 | 429 = 403;
  tokenLifetimeSeconds = 3599;
  /** Token requests answered, successful or not. */
  tokenRequests = 0;
  private readonly accounts = new Map<string, ServiceAccount>();
  private readonly tokens = new Map<string, IssuedToken>();
  private keyFile?: ServiceAccountKeyFile;

  constructor(fixture: DirectoryFixture) {
    super(fixture);
    const first = this.directory.users.find((u) => u.login.includes('@'));
    this.domain = first ? domainOf(first.login) : 'example.com';
    this.admins.add(`admin@${this.domain}`);
    this.route('POST', '/token', (req) => this.token(req));
    this.route('GET', '/admin/directory/v1/users', (req) => this.api(req, 'users', () => this.listUsers(req)));
    this.route('GET', '/admin/directory/v1/groups', (req) => this.api(req, 'groups', () => this.listGroups(req)));
    this.route('GET', '/admin/directory/v1/groups/:groupKey/members', (req) => this.api(req, 'members', () => this.listMembers(req)));
    this.route('GET', '/admin/directory/v1/customer/:customer/orgunits', (req) => this.api(req, 'orgUnits', () => this.listOrgUnits(req)));
  }

  get tokenUrl(): string {
    return `${this.baseUrl}/token`;
  }

  /** Creates a service account key (an RSA key pair) and registers its public half, like "Add key" in the Cloud console. */
  createServiceAccountKey(clientEmail = `idpsync@idpsync-test.iam.gserviceaccount.com`): ServiceAccountKeyFile {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyId = randomBytes(20).toString('hex');
    this.accounts.set(clientEmail, { keyId, publicKey });
    return {
      type: 'service_account',
      project_id: 'idpsync-test',
      private_key_id: keyId,
      private_key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      client_email: clientEmail,
      client_id: String(100_000_000_000_000_000_000n + BigInt(this.accounts.size)),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: this.tokenUrl,
    };
  }

  connection(): EmulatorConnection {
    this.keyFile ??= this.createServiceAccountKey();
    return {
      type: 'googleWorkspace',
      settings: {
        customer: 'my_customer',
        impersonate: [...this.admins][0],
        baseUrl: this.baseUrl,
        tokenUrl: this.tokenUrl,
      },
      secret: { serviceAccountKey: JSON.stringify(this.keyFile, null, 2) },
    };
  }

  override expireTokens(): boolean {
    this.revokeTokens();
    return true;
  }

  /** Expires every issued token (the next API call with one answers 401). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  protected rateLimitAnswer(): RateLimitAnswer {
    if (this.quotaAnswer === 429) {
      return { status: 429, headers: {}, body: this.googleError(429, 'Rate Limit Exceeded', 'rateLimitExceeded', 'usageLimits') };
    }
    const message =
      "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com' for consumer 'project_number:1234567890'.";
    return { status: 403, headers: {}, body: this.googleError(403, message, 'userRateLimitExceeded', 'usageLimits') };
  }

  protected errorBody(status: number, message: string): unknown {
    return this.googleError(status, message);
  }

  private googleError(code: number, message: string, reason?: string, domain = 'global'): unknown {
    const [defaultReason, status] = STATUS_NAMES[code] ?? ['unknown', 'UNKNOWN'];
    return { error: { code, message, errors: [{ message, domain, reason: reason ?? defaultReason }], status } };
  }

  // --- OAuth token endpoint -------------------------------------------------------------------

  private async token(req: EmulatorRequest): Promise<EmulatorResponse> {
    this.tokenRequests++;
    const oauthError = (status: number, error: string, description: string): EmulatorResponse => ({
      status,
      body: { error, error_description: description },
    });
    const grantType = req.form.get('grant_type');
    if (grantType !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return oauthError(400, 'unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
    }
    const assertion = req.form.get('assertion') ?? '';
    let claims: ReturnType<typeof decodeJwt>;
    let kid: string | undefined;
    try {
      claims = decodeJwt(assertion);
      kid = decodeProtectedHeader(assertion).kid;
    } catch {
      return oauthError(400, 'invalid_grant', 'Invalid JWT: could not be decoded.');
    }
    const account = typeof claims.iss === 'string' ? this.accounts.get(claims.iss) : undefined;
    if (!account) return oauthError(400, 'invalid_grant', 'Invalid grant: account not found');
    if (kid !== account.keyId) return oauthError(400, 'invalid_grant', 'Invalid JWT Signature.');
    try {
      await jwtVerify(assertion, account.publicKey, { algorithms: ['RS256'], clockTolerance: 300 });
    } catch (err) {
      const expired = (err as { code?: string }).code === 'ERR_JWT_EXPIRED';
      return oauthError(400, 'invalid_grant', expired ? 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.' : 'Invalid JWT Signature.');
    }
    if (claims.aud !== this.tokenUrl) {
      return oauthError(400, 'invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${this.tokenUrl}`);
    }
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp - claims.iat > 3600) {
      return oauthError(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    const subject = typeof claims.sub === 'string' ? claims.sub.toLowerCase() : '';
    if (!this.isAccount(subject)) return oauthError(400, 'invalid_grant', 'Invalid email or User ID');
    const scopes = String(claims.scope ?? '').split(/\s+/).filter(Boolean);
    if (scopes.length === 0) return oauthError(400, 'invalid_scope', 'Empty or missing scope not allowed.');
    if (!scopes.every((s) => this.delegatedScopes.has(s))) {
      return oauthError(
        401,
        'unauthorized_client',
        'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
      );
    }
    const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
    this.tokens.set(accessToken, { subject, scopes: new Set(scopes), expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000 });
    return { body: { access_token: accessToken, expires_in: this.tokenLifetimeSeconds, token_type: 'Bearer' } };
  }

  private isAccount(email: string): boolean {
    return this.admins.has(email) || this.directory.users.some((u) => u.state !== 'deleted' && u.login.toLowerCase() === email);
  }

  // --- Directory API --------------------------------------------------------------------------

  private api(req: EmulatorRequest, endpoint: keyof typeof ENDPOINT_SCOPES, list: () => EmulatorResponse): EmulatorResponse {
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const token = bearer ? this.tokens.get(bearer) : undefined;
    if (!token || token.expiresAt <= Date.now()) {
      return {
        status: 401,
        headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
        body: this.googleError(
          401,
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
          'authError',
        ),
      };
    }
    if (!ENDPOINT_SCOPES[endpoint].some((s) => token.scopes.has(s))) {
      return { status: 403, body: this.googleError(403, 'Request had insufficient authentication scopes.', 'insufficientPermissions') };
    }
    if (!this.admins.has(token.subject)) {
      return { status: 403, body: this.googleError(403, 'Not Authorized to access this resource/api', 'forbidden') };
    }
    return list();
  }

  private readonly indexes: ViewIndexes = { users: new IdIndex(), groups: new IdIndex() };

  private view(): GoogleDirectoryView {
    return new GoogleDirectoryView(this.directory, this.customerId, this.domain, this.archived, this.indexes);
  }

  /** customer= or domain=: Google wants exactly one way of saying whose directory. */
  private scopeFilter(req: EmulatorRequest): ((email: string) => boolean) | EmulatorResponse {
    const customer = req.url.searchParams.get('customer');
    const domain = req.url.searchParams.get('domain');
    if (domain) {
      if (domain.toLowerCase() !== this.domain) return { status: 400, body: this.googleError(400, 'Domain not found.', 'badRequest') };
      return (email) => domainOf(email) === this.domain;
    }
    if (!customer) return { status: 400, body: this.googleError(400, 'Bad Request', 'badRequest') };
    if (customer !== 'my_customer' && customer !== this.customerId) {
      return { status: 400, body: this.googleError(400, 'Bad Request', 'badRequest') };
    }
    return () => true;
  }

  private listUsers(req: EmulatorRequest): EmulatorResponse {
    const filter = this.scopeFilter(req);
    if (typeof filter !== 'function') return filter;
    const view = this.view();
    const users = view.liveUsers().filter((u) => filter(u.login));
    return this.page(req, 'users', 'admin#directory#users', users, (u) => view.userResource(u));
  }

  private listGroups(req: EmulatorRequest): EmulatorResponse {
    const filter = this.scopeFilter(req);
    if (typeof filter !== 'function') return filter;
    const view = this.view();
    const groups = this.directory.groups.filter((g) => filter(view.groupEmail(g)));
    return this.page(req, 'groups', 'admin#directory#groups', groups, (g) => view.groupResource(g));
  }

  private listMembers(req: EmulatorRequest): EmulatorResponse {
    const view = this.view();
    const group = view.findGroup(req.params.groupKey);
    if (!group || this.deletedMidSync.has(group.id)) {
      return { status: 404, body: this.googleError(404, 'Resource Not Found: groupKey', 'notFound') };
    }
    return this.page(req, 'members', 'admin#directory#members', view.members(group), (m) => view.memberResource(m));
  }

  private listOrgUnits(req: EmulatorRequest): EmulatorResponse {
    const customer = req.params.customer;
    if (customer !== 'my_customer' && customer !== this.customerId) {
      return { status: 400, body: this.googleError(400, 'Bad Request', 'badRequest') };
    }
    const type = req.url.searchParams.get('type') ?? 'children';
    const parent = req.url.searchParams.get('orgUnitPath') ?? '/';
    const all = this.view().orgUnitResources();
    const units = type === 'children' ? all.filter((u) => u.parentOrgUnitPath === parent) : all;
    const body: Record<string, unknown> = { kind: 'admin#directory#orgUnits', etag: etag(units) };
    if (units.length > 0) body.organizationUnits = units;
    return { body };
  }

  /**
   * One page of a list. Like Google, an empty page has no array at all, only kind and etag; the page
   * token is opaque and bound to the list it came from.
   */
  private page<T>(
    req: EmulatorRequest,
    list: keyof typeof PAGE_LIMITS,
    kind: string,
    items: T[],
    toResource: (item: T) => unknown,
  ): EmulatorResponse {
    const { fallback, max } = PAGE_LIMITS[list];
    const limit = limitParam(req.url, 'maxResults', fallback, Math.min(max, this.maxPageSize ?? max));
    let offset = 0;
    const token = req.url.searchParams.get('pageToken');
    if (token) {
      const decoded = decodePageToken(token, req.url.pathname);
      if (decoded === undefined) return { status: 400, body: this.googleError(400, 'Invalid Input: pageToken', 'invalid') };
      offset = decoded;
    }
    const { page, more } = pageOf(items, offset, limit);
    const resources = page.map(toResource);
    const body: Record<string, unknown> = { kind, etag: etag(resources) };
    if (resources.length > 0) body[list] = resources;
    if (more) body.nextPageToken = encodePageToken(offset + limit, req.url.pathname);
    return { body };
  }
}

function encodePageToken(offset: number, path: string): string {
  return Buffer.from(JSON.stringify({ o: offset, p: path })).toString('base64url');
}

function decodePageToken(token: string, path: string): number | undefined {
  try {
    const { o, p } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown; p?: unknown };
    return typeof o === 'number' && Number.isInteger(o) && o >= 0 && p === path ? o : undefined;
  } catch {
    return undefined;
  }
}
