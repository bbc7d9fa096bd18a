// Microsoft Entra ID as the driver sees it: the identity platform's token endpoint (client secret or
// certificate assertion, AADSTS errors) and the Microsoft Graph v1.0 reads (lists with $top and
// $skiptoken paging, delta rounds with real change tracking, app role assignments, permissions).
import { createHash, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { EmulatorBase, limitParam, type EmulatorConnection, type EmulatorRequest, type EmulatorResponse, type RateLimitAnswer } from '../common.js';
import type { DirectoryFixture } from '../fixture.js';
import { selfSignedCertificate } from './certificate.js';
import { graphView, GROUP_TYPE, groupChanges, memberObject, selectFrom, splitMembers, USER_TYPE, userChanges, type GraphView } from './view.js';

export const ENTRA_PERMISSIONS = ['User.Read.All', 'GroupMember.Read.All', 'Application.Read.All'] as const;

/** Permissions that allow each read, least privileged first (Directory.Read.All covers them all). */
const READ_USERS = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All'];
const READ_GROUPS = ['GroupMember.Read.All', 'Group.Read.All', 'Directory.Read.All'];
const READ_APPS = ['Application.Read.All', 'Directory.Read.All'];

const DEFAULT_CLIENT_ID = '3f2b8c1e-5d4a-4e8f-9b7c-1a2d3e4f5a6b';
const APP_ROLE_DEFAULT_ACCESS = '00000000-0000-0000-0000-000000000000';

interface RegisteredCertificate {
  certificate: X509Certificate;
  sha256: string;
  sha1: string;
}

interface DeltaRound {
  kind: 'users' | 'groups';
  items: Record<string, unknown>[];
  select?: string[];
  /** The delta token handed out at the end of this round: the view as it was when the round began. */
  deltaToken: string;
}

interface PageCursor {
  round: DeltaRound;
  offset: number;
}

interface Baseline {
  kind: 'users' | 'groups';
  view: GraphView;
  select?: string[];
}

/** Bounded map: the oldest entries go first, as Graph forgets old sync state. */
class Recent<V> extends Map<string, V> {
  constructor(private readonly limit: number) {
    super();
  }
  override set(key: string, value: V): this {
    super.set(key, value);
    while (this.size > this.limit) this.delete(this.keys().next().value as string);
    return this;
  }
}

export class EntraEmulator extends EmulatorBase {
  tenantId = '9c5e2b7a-4d1f-4a8e-b3c6-2f0d8e1a7b45';
  /** Verified domains that also name the tenant in token URLs. */
  tenantDomains = ['contoso.onmicrosoft.com'];
  clientId: string;
  clientSecret = 'emu~' + randomBytes(18).toString('base64url');
  /** Application permissions with admin consent. A token carries those granted when it was issued. */
  permissions = new Set<string>(ENTRA_PERMISSIONS);
  /** Seconds in the Retry-After of a throttled answer. */
  retryAfterSeconds = 2;
  /** Objects per delta page, and members per group object before a big group is split across objects. */
  deltaPageSize = 200;
  deltaMembersPerObject = 100;
  /** Answer this status to every $skiptoken page (a failure in the middle of a paged read). */
  pageFailure?: number;
  /** Leave `value` out of 200 answers on matching paths (a malformed body). */
  omitValueOn?: RegExp;

  private readonly certificates: RegisteredCertificate[] = [];
  private readonly accessTokens = new Map<string, Set<string>>();
  private readonly baselines = new Recent<Baseline>(64);
  private readonly pages = new Recent<PageCursor>(4096);

  constructor(fixture: DirectoryFixture) {
    super(fixture);
    // The app whose enterprise-app assignments count by default is the registered app itself.
    this.clientId = this.directory.apps?.[0]?.id ?? DEFAULT_CLIENT_ID;

    this.route('POST', '/:tenant/oauth2/v2.0/token', (req) => this.token(req));
    this.route('GET', '/v1.0/users', this.graph(READ_USERS, (req) => this.list(req, [...this.view().users.values()])));
    this.route('GET', '/v1.0/users/delta', this.graph(READ_USERS, (req) => this.delta(req, 'users')));
    this.route('GET', '/v1.0/groups', this.graph(READ_GROUPS, (req) => this.list(req, [...this.view().groups.values()].map((g) => g.object))));
    this.route('GET', '/v1.0/groups/delta', this.graph(READ_GROUPS, (req) => this.delta(req, 'groups')));
    this.route('GET', '/v1.0/groups/:id/members', this.graph(READ_GROUPS, (req) => this.members(req)));
    this.route('GET', '/v1.0/servicePrincipals', this.graph(READ_APPS, (req) => this.servicePrincipals(req)));
    this.route('GET', '/v1.0/servicePrincipals/:id/appRoleAssignedTo', this.graph(READ_APPS, (req) => this.assignedTo(req)));
  }

  get tokenUrl(): string {
    return `${this.baseUrl}/${this.tenantId}/oauth2/v2.0/token`;
  }

  connection(): EmulatorConnection {
    return {
      type: 'entra',
      settings: { tenantId: this.tenantId, clientId: this.clientId, loginUrl: this.baseUrl, graphUrl: this.baseUrl },
      secret: { clientSecret: this.clientSecret },
    };
  }

  /** A connection that authenticates with a new self-signed certificate registered on the app. */
  certificateConnection(): EmulatorConnection {
    const credential = selfSignedCertificate(`idpsync-${this.clientId}`);
    this.registerCertificate(credential.certificate);
    const base = this.connection();
    return { ...base, secret: { certificate: credential.certificate, privateKey: credential.privateKey } };
  }

  registerCertificate(pem: string): void {
    const certificate = new X509Certificate(pem);
    this.certificates.push({
      certificate,
      sha256: createHash('sha256').update(certificate.raw).digest('base64url'),
      sha1: createHash('sha1').update(certificate.raw).digest('base64url'),
    });
  }

  override expireTokens(): boolean {
    this.expireAccessTokens();
    return true;
  }

  /** Every access token stops working (as after expiry): Graph answers 401 until a new one is issued. */
  expireAccessTokens(): void {
    this.accessTokens.clear();
  }

  /** Graph forgets all delta state: every delta link and skip token answers 410 syncStateNotFound. */
  expireDeltaTokens(): void {
    this.baselines.clear();
    this.pages.clear();
  }

  private view(): GraphView {
    return graphView(this.directory);
  }

  // ---- identity platform -------------------------------------------------------------------------

  private aadError(status: number, error: string, code: number, text: string): EmulatorResponse {
    const traceId = randomUUID();
    const correlationId = randomUUID();
    const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    return {
      status,
      body: {
        error,
        error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
        error_codes: [code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `${this.baseUrl}/error?code=${code}`,
      },
    };
  }

  private async token(req: EmulatorRequest): Promise<EmulatorResponse> {
    const tenant = req.params.tenant;
    if (tenant !== this.tenantId && !this.tenantDomains.includes(tenant)) {
      return this.aadError(
        400,
        'invalid_request',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    const form = req.form;
    if (form.get('grant_type') !== 'client_credentials') {
      return this.aadError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    }
    const clientId = form.get('client_id');
    if (clientId !== this.clientId) {
      return this.aadError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const scope = form.get('scope') ?? '';
    if (!scope.endsWith('/.default')) {
      return this.aadError(400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    const resource = scope.slice(0, -'/.default'.length);
    if (resource !== this.baseUrl && resource !== 'https://graph.microsoft.com') {
      return this.aadError(400, 'invalid_resource', 500011, `The resource principal named ${resource} was not found in the tenant named ${tenant}.`);
    }

    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (secret !== this.clientSecret) {
        return this.aadError(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${this.clientId}'.`,
        );
      }
    } else if (assertion !== null) {
      const refused = await this.checkAssertion(assertion, form.get('client_assertion_type'));
      if (refused) return refused;
    } else {
      return this.aadError(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }

    const accessToken = 'eyJ0eXAiOiJKV1Qi.' + randomBytes(24).toString('base64url');
    this.accessTokens.set(accessToken, new Set(this.permissions));
    return { body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: accessToken } };
  }

  private async checkAssertion(assertion: string, type: string | null): Promise<EmulatorResponse | undefined> {
    if (type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      return this.aadError(400, 'invalid_request', 700025, 'Client assertion type is not supported.');
    }
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(assertion) as Record<string, unknown>;
    } catch {
      return this.aadError(401, 'invalid_client', 700027, 'Client assertion contains an invalid signature. The assertion is not a JWT.');
    }
    const registered = this.certificates.find((c) => c.sha256 === header['x5t#S256'] || (!header['x5t#S256'] && c.sha1 === header.x5t));
    if (!registered) {
      return this.aadError(
        401,
        'invalid_client',
        700027,
        `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${String(header['x5t#S256'] ?? header.x5t)}']`,
      );
    }
    try {
      await jwtVerify(assertion, registered.certificate.publicKey, {
        algorithms: ['PS256', 'RS256'],
        audience: this.tokenUrl,
        issuer: this.clientId,
        subject: this.clientId,
      });
    } catch (err) {
      return this.aadError(401, 'invalid_client', 700027, `Client assertion failed signature validation. (${(err as Error).message})`);
    }
    return undefined;
  }

  // ---- Graph -------------------------------------------------------------------------------------

  protected rateLimitAnswer(): RateLimitAnswer {
    return {
      status: 429,
      headers: { 'Retry-After': String(this.retryAfterSeconds) },
      body: this.errorBody(429, 'Too many requests. Please retry after the time given in the Retry-After header.'),
    };
  }

  protected errorBody(status: number, message: string): unknown {
    const codes: Record<number, string> = {
      400: 'BadRequest',
      401: 'InvalidAuthenticationToken',
      403: 'Authorization_RequestDenied',
      404: 'Request_ResourceNotFound',
      410: 'syncStateNotFound',
      429: 'TooManyRequests',
      503: 'serviceNotAvailable',
    };
    return {
      error: {
        code: codes[status] ?? 'generalException',
        message,
        innerError: { date: new Date().toISOString(), 'request-id': randomUUID(), 'client-request-id': randomUUID() },
      },
    };
  }

  private graphError(status: number, message: string, code?: string): EmulatorResponse {
    const body = this.errorBody(status, message) as { error: { code: string } };
    if (code) body.error.code = code;
    return { status, body };
  }

  /** Wraps a Graph handler: bearer token, application permission, and the page-level fault knobs. */
  private graph(accepted: string[], handler: (req: EmulatorRequest) => EmulatorResponse): (req: EmulatorRequest) => EmulatorResponse {
    return (req) => {
      const auth = String(req.headers.authorization ?? '');
      const roles = auth.startsWith('Bearer ') ? this.accessTokens.get(auth.slice(7)) : undefined;
      if (!roles) return this.graphError(401, 'Access token has expired or is not yet valid.');
      if (!accepted.some((p) => roles.has(p))) return this.graphError(403, 'Insufficient privileges to complete the operation.');
      if (this.pageFailure && req.url.searchParams.has('$skiptoken')) {
        return this.graphError(this.pageFailure, 'Injected failure on a page');
      }
      const answer = handler(req);
      if (this.omitValueOn?.test(req.url.pathname) && (answer.status ?? 200) === 200) {
        const { value: _value, ...rest } = answer.body as Record<string, unknown>;
        return { ...answer, body: rest };
      }
      return answer;
    };
  }

  private context(req: EmulatorRequest): string {
    const entity = req.url.pathname.replace(/^\/v1\.0\//, '');
    return `${this.baseUrl}/v1.0/$metadata#${entity}`;
  }

  private select(req: EmulatorRequest): string[] | undefined {
    const raw = req.url.searchParams.get('$select');
    return raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  }

  /** A collection page with $top (default 100, at most 999) and an opaque $skiptoken. */
  private list<T extends { id: string }>(req: EmulatorRequest, items: T[], decorate: (item: T) => Record<string, unknown> = (i) => ({ ...i })): EmulatorResponse {
    const top = limitParam(req.url, '$top', 100, 999);
    const skip = req.url.searchParams.get('$skiptoken');
    const offset = skip ? Number(JSON.parse(Buffer.from(skip, 'base64url').toString()).o) : 0;
    const select = this.select(req);
    const page = items.slice(offset, offset + top).map((item) => selectFrom(decorate(item) as T, select && [...select, '@odata.type']));
    const body: Record<string, unknown> = { '@odata.context': this.context(req) };
    if (offset + top < items.length) {
      const next = new URL(req.url.pathname, this.baseUrl);
      for (const [k, v] of req.url.searchParams) if (k !== '$skiptoken') next.searchParams.set(k, v);
      next.searchParams.set('$skiptoken', Buffer.from(JSON.stringify({ o: offset + top })).toString('base64url'));
      body['@odata.nextLink'] = decodeURIComponent(next.href);
    }
    body.value = page;
    return { body };
  }

  private members(req: EmulatorRequest): EmulatorResponse {
    // Answered from the fixture directly: building the whole view for each group is too slow for big tenants.
    const group = this.directory.groups.find((g) => g.id === req.params.id);
    if (!group) return this.graphError(404, `Resource '${req.params.id}' does not exist or one of its queried reference-property objects are not present.`);
    const wanted = new Set(group.members ?? []);
    const users = this.directory.users.filter((u) => wanted.has(u.id) && u.state !== 'deleted').map((u) => u.id);
    const groupIds = new Set(this.directory.groups.map((g) => g.id));
    const members = [
      ...users.map((id) => memberObject(id, USER_TYPE)),
      ...(group.groups ?? []).filter((id) => groupIds.has(id)).map((id) => memberObject(id, GROUP_TYPE)),
    ] as { id: string }[];
    return this.list(req, members);
  }

  private servicePrincipals(req: EmulatorRequest): EmulatorResponse {
    const filter = req.url.searchParams.get('$filter');
    const match = filter ? /^appId eq '((?:[^']|'')*)'$/.exec(filter) : null;
    if (filter && !match) return this.graphError(400, `Unsupported query: ${filter}`, 'Request_UnsupportedQuery');
    const appId = match?.[1].replace(/''/g, "'");
    const sps = (this.directory.apps ?? [])
      .filter((a) => !appId || a.id === appId)
      .map((a) => ({ id: `sp-${a.id}`, appId: a.id, displayName: a.id, servicePrincipalType: 'Application', accountEnabled: true }));
    return this.list(req, sps);
  }

  private assignedTo(req: EmulatorRequest): EmulatorResponse {
    const app = (this.directory.apps ?? []).find((a) => `sp-${a.id}` === req.params.id);
    if (!app) return this.graphError(404, `Resource '${req.params.id}' does not exist or one of its queried reference-property objects are not present.`);
    const view = this.view();
    const assignment = (principalId: string, principalType: 'User' | 'Group', name: string) => ({
      id: Buffer.from(`${principalId}:${app.id}`).toString('base64url'),
      appRoleId: APP_ROLE_DEFAULT_ACCESS,
      createdDateTime: '2024-01-01T00:00:00Z',
      principalDisplayName: name,
      principalId,
      principalType,
      resourceDisplayName: app.id,
      resourceId: req.params.id,
    });
    const items = [
      ...(app.groups ?? []).filter((id) => view.groups.has(id)).map((id) => assignment(id, 'Group', view.groups.get(id)!.object.displayName)),
      ...(app.users ?? []).filter((id) => view.users.has(id)).map((id) => assignment(id, 'User', view.users.get(id)!.displayName)),
    ];
    return this.list(req, items);
  }

  /**
   * A delta round. Without a token: everything, ending in a deltaLink that remembers the view as it
   * was. With $deltatoken: only what changed since that view. With $skiptoken: the next page.
   */
  private delta(req: EmulatorRequest, kind: 'users' | 'groups'): EmulatorResponse {
    const skip = req.url.searchParams.get('$skiptoken');
    const deltaToken = req.url.searchParams.get('$deltatoken');
    let cursor: PageCursor | undefined;
    if (skip) {
      cursor = this.pages.get(skip);
    } else {
      const baseline = deltaToken ? this.baselines.get(deltaToken) : undefined;
      if (deltaToken && (!baseline || baseline.kind !== kind)) cursor = undefined;
      else cursor = { round: this.startRound(kind, baseline, baseline?.select ?? this.select(req)), offset: 0 };
    }
    if (!cursor || cursor.round.kind !== kind) {
      return this.graphError(410, 'The sync state for this delta link was not found or has expired. Start a new round without a token.', 'syncStateNotFound');
    }

    const { round, offset } = cursor;
    const value = round.items.slice(offset, offset + this.deltaPageSize);
    const body: Record<string, unknown> = { '@odata.context': `${this.baseUrl}/v1.0/$metadata#${kind}` };
    if (offset + this.deltaPageSize < round.items.length) {
      const token = randomBytes(16).toString('base64url');
      this.pages.set(token, { round, offset: offset + this.deltaPageSize });
      body['@odata.nextLink'] = `${this.baseUrl}/v1.0/${kind}/delta?$skiptoken=${token}`;
    } else {
      body['@odata.deltaLink'] = `${this.baseUrl}/v1.0/${kind}/delta?$deltatoken=${round.deltaToken}`;
    }
    body.value = value;
    return { body };
  }

  private startRound(kind: 'users' | 'groups', baseline: Baseline | undefined, select: string[] | undefined): DeltaRound {
    const now = this.view();
    const items =
      kind === 'users'
        ? userChanges(baseline?.view, now, select)
        : splitMembers(groupChanges(baseline?.view, now, select), this.deltaMembersPerObject);
    const deltaToken = randomBytes(16).toString('base64url');
    this.baselines.set(deltaToken, { kind, view: now, select });
    return { kind, items, select, deltaToken };
  }
}
