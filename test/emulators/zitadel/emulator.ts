// A Zitadel instance on 127.0.0.1 with one organisation and one project: the token endpoint's JWT
// profile grant (the assertion checked against the service user's public key), personal access
// tokens, tokens without the API audience refused by the API with 401, and the reads idpsync makes:
// POST /v2/users (Connect errors, human and machine users), the project's roles and its user grants
// (management API v1, REST gateway errors), offset/limit paging with totalResult, and 403s for the
// permission a call needs.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { EmulatorBase, type EmulatorConnection, type EmulatorRequest, type EmulatorResponse, type RateLimitAnswer } from '../common.js';
import { DerivedFromList, LastResult } from '../cache.js';
import type { DirectoryFixture, FixtureGroup, FixtureUser, FixtureUserState } from '../fixture.js';

export type ZitadelPermission = 'user.read' | 'user.grant.read' | 'project.role.read';

export const API_AUDIENCE_SCOPE = 'urn:zitadel:iam:org:project:id:zitadel:aud';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The id of the ZITADEL project of the instance, which the API audience scope stands for. */
const ZITADEL_PROJECT_ID = '290000000000000003';
/** Zitadel's default and largest list limits. */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

export interface MachineUser {
  userId: string;
  username: string;
  /** Fixture group ids (role keys) the machine user holds through a user grant. */
  roles?: string[];
}

interface IssuedToken {
  userId: string;
  scopes: Set<string>;
  expiresAt: number;
}

const STATES: Record<FixtureUserState, string> = {
  active: 'USER_STATE_ACTIVE',
  suspended: 'USER_STATE_INACTIVE',
  locked: 'USER_STATE_LOCKED',
  staged: 'USER_STATE_INITIAL',
  deleted: 'USER_STATE_DELETED',
};

/** gRPC status codes as the REST gateway puts them in "code". */
const GRPC_CODES: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 429: 8, 500: 13, 503: 14 };

export class ZitadelEmulator extends EmulatorBase {
  readonly orgId = '290000000000000001';
  readonly projectId = '290000000000000002';
  readonly serviceUserId = '290000000000000100';
  readonly keyId = '290000000000000101';
  readonly personalAccessToken = `pat-${randomBytes(24).toString('base64url')}`;
  /** The service user's key file, as Zitadel lets you download it once. */
  readonly keyFile: string;
  /** Permissions the service user holds through its manager role. */
  permissions = new Set<ZitadelPermission>(['user.read', 'user.grant.read', 'project.role.read']);
  /** Machine users besides the people; the service user itself is one. */
  machineUsers: MachineUser[] = [{ userId: this.serviceUserId, username: 'idpsync' }];
  /** Users whose grant on the project is deactivated. */
  inactiveGrants = new Set<string>();
  /** The service user's keys by key id; removing one makes assertions signed with it fail. */
  readonly publicKeys = new Map<string, KeyObject>();
  /** Sent as Retry-After with an injected 429; none by default. */
  retryAfterSeconds?: number;
  /** Scopes of every token the token endpoint issued, in order. */
  readonly issuedScopes: string[][] = [];
  /** Runs before each API request is answered: a test's chance to change the directory mid-read, or answer instead. */
  onRequest?: (req: EmulatorRequest) => void | EmulatorResponse | Promise<void | EmulatorResponse>;
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(fixture: DirectoryFixture) {
    super(fixture);
    const { privateKey, publicKey } = serviceUserKeyPair();
    this.publicKeys.set(this.keyId, publicKey);
    this.keyFile = JSON.stringify({
      type: 'serviceaccount',
      keyId: this.keyId,
      key: privateKey.export({ type: 'pkcs1', format: 'pem' }),
      expirationDate: '9999-12-31T23:59:59Z',
      userId: this.serviceUserId,
    });
    this.route('POST', '/oauth/v2/token', (req) => this.token(req));
    this.api('GET', '/auth/v1/users/me', undefined, 'v1', () => this.me());
    this.api('POST', '/v2/users', 'user.read', 'v2', (req) => this.listUsers(req));
    this.api('POST', '/management/v1/projects/:projectId/roles/_search', 'project.role.read', 'v1', (req) => this.listRoles(req));
    this.api('POST', '/management/v1/users/grants/_search', 'user.grant.read', 'v1', (req) => this.listGrants(req));
  }

  connection(): EmulatorConnection {
    return { type: 'zitadel', settings: { baseUrl: this.baseUrl, projectId: this.projectId }, secret: { keyFile: this.keyFile } };
  }

  /** Every access token issued so far stops working (the next API call answers 401). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  protected rateLimitAnswer(): RateLimitAnswer {
    return {
      status: 429,
      headers: this.retryAfterSeconds !== undefined ? { 'retry-after': String(this.retryAfterSeconds) } : {},
      body: { code: 'resource_exhausted', message: 'Errors.Limits.Requests.Exceeded (QUOTA-6bSWh)' },
    };
  }

  protected errorBody(status: number, message: string): unknown {
    return gatewayError(status, message);
  }

  private async token(req: EmulatorRequest): Promise<EmulatorResponse> {
    const refuse = (error: string, description: string) => ({ status: 400, body: { error, error_description: description } });
    if (req.form.get('grant_type') !== JWT_BEARER) return refuse('unsupported_grant_type', `${req.form.get('grant_type')} not supported`);
    const scopes = new Set((req.form.get('scope') ?? '').split(' ').filter(Boolean));
    if (!scopes.has('openid')) return refuse('invalid_scope', 'The scope openid is missing in your request.');
    const assertion = req.form.get('assertion') ?? '';
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(assertion).kid;
    } catch {
      return refuse('invalid_request', 'assertion is not a JWT');
    }
    const key = kid ? this.publicKeys.get(kid) : undefined;
    if (!key) return refuse('invalid_grant', 'Errors.User.Machine.Key.NotFound (QUERY-Tha6f)');
    try {
      const { payload } = await jwtVerify(assertion, key, { algorithms: ['RS256'], audience: this.baseUrl, issuer: this.serviceUserId, subject: this.serviceUserId });
      if (payload.exp! - payload.iat! > 3600) return refuse('invalid_grant', 'assertion lives longer than an hour');
    } catch (err) {
      return refuse('invalid_grant', `assertion invalid: ${(err as Error).message}`);
    }
    this.issuedScopes.push([...scopes]);
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, { userId: this.serviceUserId, scopes, expiresAt: Date.now() + 43_199_000 });
    // The grant needs the openid scope, and Zitadel answers it with an ID token for the service user:
    // its audience is the projects the scopes name plus the service user as the client (also azp).
    const now = Math.floor(Date.now() / 1000);
    const idToken = await new SignJWT({ azp: this.serviceUserId, client_id: this.serviceUserId, auth_time: now })
      .setProtectedHeader({ alg: 'RS256', kid: 'instance-signing-key' })
      .setIssuer(this.baseUrl)
      .setSubject(this.serviceUserId)
      .setAudience([...(scopes.has(API_AUDIENCE_SCOPE) ? [ZITADEL_PROJECT_ID] : []), this.serviceUserId])
      .setIssuedAt(now)
      .setExpirationTime(now + 43_199)
      .sign(serviceUserKeyPair().privateKey);
    return { body: { access_token: token, token_type: 'Bearer', expires_in: 43199, id_token: idToken } };
  }

  /**
   * An API endpoint: the bearer token and its audience (401), the organisation header and the
   * permission (403), in Zitadel's error shapes for the REST gateway (v1) or Connect (v2).
   */
  private api(method: string, path: string, permission: ZitadelPermission | undefined, style: 'v1' | 'v2', handler: (req: EmulatorRequest) => EmulatorResponse): void {
    const fail = (status: number, message: string): EmulatorResponse => ({ status, body: style === 'v1' ? gatewayError(status, message) : connectError(status, message) });
    this.route(method, path, async (req) => {
      const answer = await this.onRequest?.(req);
      if (answer) return answer;
      const header = String(req.headers.authorization ?? '');
      const bearer = header.startsWith('Bearer ') ? header.slice(7) : '';
      const issued = bearer === this.personalAccessToken ? undefined : this.tokens.get(bearer);
      if (bearer !== this.personalAccessToken) {
        if (!issued || issued.expiresAt < Date.now()) return fail(401, 'Errors.Token.Invalid (AUTH-7fs1e)');
        if (!issued.scopes.has(API_AUDIENCE_SCOPE)) return fail(401, 'invalid audience (APP-Zxfako)');
      }
      const org = req.headers['x-zitadel-orgid'];
      if (org !== undefined && org !== this.orgId) return fail(403, 'No matching permissions found (AUTH-5mWD2)');
      if (permission && !this.permissions.has(permission)) return fail(403, 'No matching permissions found (AUTH-5mWD2)');
      if (method === 'POST' && (typeof req.json !== 'object' || req.json === null)) return fail(400, 'invalid request body');
      return handler(req);
    });
  }

  private me(): EmulatorResponse {
    return {
      body: {
        user: {
          id: this.serviceUserId,
          details: { sequence: '3', resourceOwner: this.orgId },
          state: 'USER_STATE_ACTIVE',
          userName: 'idpsync',
          preferredLoginName: 'idpsync',
          machine: { name: 'idpsync', description: 'reads users and grants', hasSecret: false, accessTokenType: 'ACCESS_TOKEN_TYPE_BEARER' },
        },
      },
    };
  }

  private listUsers(req: EmulatorRequest): EmulatorResponse {
    const body = req.json as { queries?: Record<string, Record<string, unknown>>[] };
    let [humans, machines] = [true, true];
    for (const query of body.queries ?? []) {
      if (query.typeQuery) [humans, machines] = [humans && query.typeQuery.type === 'TYPE_HUMAN', machines && query.typeQuery.type === 'TYPE_MACHINE'];
      else if (query.organizationIdQuery) [humans, machines] = query.organizationIdQuery.organizationId === this.orgId ? [humans, machines] : [false, false];
      else return { status: 400, body: connectError(400, `unsupported query ${Object.keys(query).join(', ')}`) };
    }
    const rows = humans && machines ? this.everyone() : humans ? this.people() : machines ? this.machines.get(this.machineUsers) : [];
    return this.page(req, rows, 'v2', (r) => (isPerson(r) ? this.humanJson(r) : this.machineJson(r)));
  }

  /** People, then machine users, kept while both are the same. */
  private everyone(): (FixtureUser | MachineUser)[] {
    const people = this.people();
    const machines = this.machines.get(this.machineUsers);
    return this.peopleAndMachines.get([people, machines], () => [...people, ...machines]);
  }

  private readonly machines = new DerivedFromList<MachineUser, MachineUser[]>(['userId', 'username', 'roles'], (machines) => [...machines]);
  private readonly peopleAndMachines = new LastResult<(FixtureUser | MachineUser)[]>();

  private listRoles(req: EmulatorRequest): EmulatorResponse {
    const roles = req.params.projectId === this.projectId ? this.directory.groups : [];
    return this.page(req, roles, 'v1', (g) => ({
      key: g.id,
      details: { sequence: '7', creationDate: '2024-03-04T10:15:00Z', resourceOwner: this.orgId },
      displayName: g.name,
      group: '',
    }));
  }

  private listGrants(req: EmulatorRequest): EmulatorResponse {
    const body = req.json as { queries?: Record<string, Record<string, unknown>>[] };
    let project = this.projectId;
    for (const query of body.queries ?? []) {
      if (query.projectIdQuery) project = String(query.projectIdQuery.projectId);
      else return { status: 400, body: gatewayError(400, `unsupported query ${Object.keys(query).join(', ')}`) };
    }
    if (project !== this.projectId) return this.page(req, [], 'v1', (row) => row);
    const grants = this.grants();
    return this.page(req, grants, 'v1', (g) => ({
      id: `grant-${g.userId}`,
      details: { sequence: '9', creationDate: '2024-03-04T10:20:00Z', changeDate: '2024-03-04T10:20:00Z', resourceOwner: this.orgId },
      roleKeys: g.roles,
      state: this.inactiveGrants.has(g.userId) ? 'USER_GRANT_STATE_INACTIVE' : 'USER_GRANT_STATE_ACTIVE',
      userId: g.userId,
      userName: g.username,
      firstName: g.user?.firstName ?? '',
      lastName: g.user?.lastName ?? '',
      email: g.user?.email ?? '',
      displayName: g.user ? displayName(g.user) : g.username,
      orgId: this.orgId,
      orgName: 'corp',
      orgDomain: 'corp.zitadel.example',
      projectId: this.projectId,
      projectName: 'idpsync',
      preferredLoginName: g.username,
      userType: g.type,
      grantedOrgId: this.orgId,
      grantedOrgName: 'corp',
      grantedOrgDomain: 'corp.zitadel.example',
    }));
  }

  /**
   * Everyone holding a role in the project: people, then machine users. Kept while the people, the
   * machine users and the groups' members are the same, rather than gathered again for each page.
   */
  private grants(): Grant[] {
    const people = this.people();
    const machines = this.machines.get(this.machineUsers);
    const held = this.rolesHeld.get(this.directory.groups);
    return this.grantRows.get([people, machines, held], () =>
      [
        ...people.map((u): Grant => ({ userId: u.id, username: u.login, type: 'TYPE_HUMAN', roles: held.byUser.get(u.id) ?? [], user: u })),
        ...machines.map((m): Grant => ({ userId: m.userId, username: m.username, type: 'TYPE_MACHINE', roles: (m.roles ?? []).filter((r) => held.roleKeys.has(r)), user: undefined })),
      ].filter((g) => g.roles.length > 0),
    );
  }

  private readonly rolesHeld = new DerivedFromList<FixtureGroup, { roleKeys: Set<string>; byUser: Map<string, string[]> }>(['id', 'members'], (groups) => {
    const byUser = new Map<string, string[]>();
    for (const g of groups) for (const id of g.members ?? []) byUser.set(id, [...(byUser.get(id) ?? []), g.id]);
    return { roleKeys: new Set(groups.map((g) => g.id)), byUser };
  });

  private readonly grantRows = new LastResult<Grant[]>();

  /** People in creation order (the fixture's); deleted ones are gone from Zitadel's lists. */
  private people(): FixtureUser[] {
    return this.livePeople.get(this.directory.users);
  }

  private readonly livePeople = new DerivedFromList<FixtureUser, FixtureUser[]>(['id', 'login', 'state'], (users) => users.filter((u) => u.state !== 'deleted'));

  private humanJson(u: FixtureUser): Record<string, unknown> {
    return {
      userId: u.id,
      details: { sequence: '12', changeDate: '2024-03-04T10:15:00Z', resourceOwner: this.orgId },
      state: STATES[u.state ?? 'active'],
      username: u.login,
      loginNames: [u.login],
      preferredLoginName: u.login,
      human: {
        profile: { givenName: u.firstName ?? '', familyName: u.lastName ?? '', displayName: displayName(u), preferredLanguage: 'en', gender: 'GENDER_UNSPECIFIED' },
        ...(u.email ? { email: { email: u.email, isVerified: true } } : {}),
        phone: {},
        passwordChanged: '2024-03-04T10:15:00Z',
      },
    };
  }

  private machineJson(m: MachineUser): Record<string, unknown> {
    return {
      userId: m.userId,
      details: { sequence: '3', changeDate: '2024-03-01T08:00:00Z', resourceOwner: this.orgId },
      state: 'USER_STATE_ACTIVE',
      username: m.username,
      loginNames: [m.username],
      preferredLoginName: m.username,
      machine: { name: m.username, description: '', hasSecret: false, accessTokenType: 'ACCESS_TOKEN_TYPE_BEARER' },
    };
  }

  /** offset/limit as Zitadel reads them (offset a decimal string, limit 0 for the default), with totalResult. */
  private page<T>(req: EmulatorRequest, rows: T[], style: 'v1' | 'v2', toJson: (row: T) => unknown): EmulatorResponse {
    const query = ((req.json as { query?: { offset?: unknown; limit?: unknown; asc?: unknown } }).query ?? {}) as { offset?: unknown; limit?: unknown; asc?: unknown };
    const offset = Number(query.offset ?? 0);
    const rawLimit = Number(query.limit ?? 0);
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(rawLimit) || rawLimit < 0) {
      return { status: 400, body: style === 'v1' ? gatewayError(400, 'invalid query') : connectError(400, 'invalid query') };
    }
    const limit = rawLimit === 0 ? DEFAULT_LIMIT : Math.min(rawLimit, MAX_LIMIT);
    // Newest first unless asc: the same rows as a reversed copy would give, without copying them all.
    const result = (query.asc === true ? rows.slice(offset, offset + limit) : rows.slice(Math.max(0, rows.length - offset - limit), Math.max(0, rows.length - offset)).reverse()).map(toJson);
    const details =
      style === 'v1'
        ? { totalResult: String(rows.length), processedSequence: '42', viewTimestamp: new Date().toISOString() }
        : { totalResult: String(rows.length), timestamp: new Date().toISOString() };
    // Zitadel leaves out zero values: an empty result has no "result" field.
    return { body: { details, ...(result.length > 0 ? { result } : {}) } };
  }
}

let keyPair: { privateKey: KeyObject; publicKey: KeyObject } | undefined;

/** One key pair per process: generating RSA keys is slow on a busy machine, and each emulator only needs one that it knows. */
function serviceUserKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  keyPair ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
  return keyPair;
}

interface Grant {
  userId: string;
  username: string;
  type: 'TYPE_HUMAN' | 'TYPE_MACHINE';
  roles: string[];
  user: FixtureUser | undefined;
}

function isPerson(row: FixtureUser | MachineUser): row is FixtureUser {
  return 'login' in row;
}

function displayName(u: FixtureUser): string {
  return [u.firstName, u.lastName].filter(Boolean).join(' ') || u.login;
}

function gatewayError(status: number, message: string): unknown {
  const id = /\(([A-Z]+-\w+)\)$/.exec(message)?.[1];
  return { code: GRPC_CODES[status] ?? 2, message, details: id ? [{ '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id, message: message.replace(/ \(.*\)$/, '') }] : [] };
}

const CONNECT_CODES: Record<number, string> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  429: 'resource_exhausted',
  500: 'internal',
  503: 'unavailable',
};

function connectError(status: number, message: string): unknown {
  return { code: CONNECT_CODES[status] ?? 'unknown', message };
}
