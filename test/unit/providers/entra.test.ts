import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { StallError, TransientError } from '../../../src/errors.js';
import { aadstsText, certificateThumbprints, tokenError } from '../../../src/providers/entra/auth.js';
import { resolveConfig } from '../../../src/providers/entra/config.js';
import { graphErrorText, parsePage } from '../../../src/providers/entra/graph.js';
import {
  applyGroups,
  applyUsers,
  buildDirectory,
  cloneState,
  emptyState,
  GROUP_TYPE,
  USER_TYPE,
  type TenantState,
} from '../../../src/providers/entra/state.js';
import { selfSignedCertificate } from '../../emulators/entra/certificate.js';

const GRAPH = 'https://graph.microsoft.com';
const user = (id: string) => ({ '@odata.type': USER_TYPE, id });
const group = (id: string) => ({ '@odata.type': GROUP_TYPE, id });
const removed = <T extends object>(o: T) => ({ ...o, '@removed': { reason: 'deleted' } });

function seeded(): TenantState {
  const state = emptyState();
  applyUsers(state, [
    { id: 'a', userPrincipalName: 'a@x.com', mail: 'a@x.com', displayName: 'A', accountEnabled: true },
    { id: 'b', userPrincipalName: 'b@x.com', mail: null, displayName: 'B', accountEnabled: true },
  ]);
  applyGroups(state, [
    { id: 'g1', displayName: 'One', description: 'first', 'members@delta': [user('a'), group('g2')] },
    { id: 'g2', displayName: 'Two', 'members@delta': [user('b')] },
  ]);
  return state;
}

describe('Entra: Graph pages', () => {
  it('reads value, @odata.nextLink and @odata.deltaLink', () => {
    const next = `${GRAPH}/v1.0/users?$top=999&$skiptoken=abc`;
    const page = parsePage<{ id: string }>({ '@odata.nextLink': next, value: [{ id: '1' }] }, `${GRAPH}/v1.0/users`, GRAPH);
    expect(page).to.deep.equal({ value: [{ id: '1' }], nextLink: new URL(next).href, deltaLink: undefined });
    const last = parsePage({ '@odata.deltaLink': `${GRAPH}/v1.0/users/delta?$deltatoken=x`, value: [] }, `${GRAPH}/v1.0/users/delta`, GRAPH);
    expect(last.nextLink).to.equal(undefined);
    expect(last.deltaLink).to.contain('$deltatoken=x');
  });

  it('treats a body without a value array as malformed, never as empty', () => {
    for (const body of [{}, { value: null }, { value: {} }, null, 'text']) {
      expect(() => parsePage(body, `${GRAPH}/v1.0/groups`, GRAPH))
        .to.throw(TransientError)
        .with.property('reason', 'MalformedResponse');
    }
  });

  it('refuses paging links that leave the Graph origin (they would carry the token)', () => {
    const body = { '@odata.nextLink': 'https://attacker.example/v1.0/users?$skiptoken=1', value: [] };
    expect(() => parsePage(body, `${GRAPH}/v1.0/users`, GRAPH)).to.throw(/outside https:\/\/graph\.microsoft\.com/);
  });

  it('turns Graph error bodies into "code: message"', () => {
    expect(graphErrorText({ error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } })).to.equal(
      'Authorization_RequestDenied: Insufficient privileges to complete the operation.',
    );
    expect(graphErrorText(undefined)).to.equal(undefined);
  });
});

describe('Entra: delta merge', () => {
  it('builds groups with direct user and group members', () => {
    const { groups } = buildDirectory(seeded());
    expect(groups).to.deep.equal([
      { id: 'g1', name: 'One', kind: 'Group', description: 'first', memberUserIds: ['a'], memberGroupIds: ['g2'] },
      { id: 'g2', name: 'Two', kind: 'Group', memberUserIds: ['b'], memberGroupIds: [] },
    ]);
  });

  it('patches a user with only the properties a delta page carries', () => {
    const state = seeded();
    applyUsers(state, [{ id: 'a', accountEnabled: false }]);
    const a = buildDirectory(state).users.find((u) => u.id === 'a');
    expect(a).to.deep.equal({ id: 'a', login: 'a@x.com', email: 'a@x.com', displayName: 'A', state: 'Suspended', idpStatus: 'accountDisabled' });
  });

  it('removes users and groups marked @removed, and their memberships with them', () => {
    const state = seeded();
    applyUsers(state, [{ id: 'b', '@removed': { reason: 'changed' } }]);
    applyGroups(state, [removed({ id: 'g2' })]);
    const { users, groups } = buildDirectory(state);
    expect(users.map((u) => u.id)).to.deep.equal(['a']);
    expect(groups).to.have.length(1);
    expect(groups[0].memberGroupIds).to.deep.equal([]);
  });

  it('merges members@delta of one group split across pages, additions and removals', () => {
    const state = seeded();
    applyUsers(state, [{ id: 'c', userPrincipalName: 'c@x.com', accountEnabled: true }]);
    applyGroups(state, [{ id: 'g1', 'members@delta': [user('b')] }]);
    applyGroups(state, [{ id: 'g1', 'members@delta': [removed(user('a')), user('c')] }]);
    applyGroups(state, [{ id: 'g1', 'members@delta': [removed(group('g2'))] }]);
    const g1 = buildDirectory(state).groups.find((g) => g.id === 'g1')!;
    expect(g1.memberUserIds).to.deep.equal(['b', 'c']);
    expect(g1.memberGroupIds).to.deep.equal([]);
    expect(g1.name).to.equal('One');
  });

  it('keeps the members of a group whose delta item has no members@delta (only a property changed)', () => {
    const state = seeded();
    applyGroups(state, [{ id: 'g1', displayName: 'Renamed' }]);
    const g1 = buildDirectory(state).groups.find((g) => g.id === 'g1')!;
    expect(g1).to.include({ name: 'Renamed', description: 'first' });
    expect(g1.memberUserIds).to.deep.equal(['a']);
  });

  it('ignores members that are not users or groups (devices, contacts)', () => {
    const state = seeded();
    applyGroups(state, [{ id: 'g2', 'members@delta': [{ '@odata.type': '#microsoft.graph.device', id: 'd1' }] }]);
    expect(buildDirectory(state).groups.find((g) => g.id === 'g2')!.memberUserIds).to.deep.equal(['b']);
  });

  it('leaves the original picture alone when changes go to a clone', () => {
    const state = seeded();
    const copy = cloneState(state);
    applyGroups(copy, [{ id: 'g1', 'members@delta': [removed(user('a'))] }]);
    applyUsers(copy, [{ id: 'a', '@removed': { reason: 'deleted' } }]);
    expect(buildDirectory(state).groups[0].memberUserIds).to.deep.equal(['a']);
    expect(state.users.has('a')).to.equal(true);
  });

  it('refuses to build a user without userPrincipalName or a group without displayName', () => {
    const state = seeded();
    applyUsers(state, [{ id: 'x', accountEnabled: true }]);
    expect(() => buildDirectory(state)).to.throw(TransientError, /userPrincipalName/);
    const groups = seeded();
    applyGroups(groups, [{ id: 'g9', 'members@delta': [] }]);
    expect(() => buildDirectory(groups)).to.throw(TransientError, /displayName/);
  });

  it('with assignments keeps assigned groups, their direct members and directly assigned users', () => {
    const state = seeded();
    applyUsers(state, [{ id: 'c', userPrincipalName: 'c@x.com', accountEnabled: true }]);
    const { users, groups } = buildDirectory(state, { groupIds: new Set(['g1']), userIds: new Set(['c', 'gone']) });
    expect(groups.map((g) => g.id)).to.deep.equal(['g1']);
    expect(groups[0].memberGroupIds).to.deep.equal([]); // g2 is not assigned
    expect(users.map((u) => u.id)).to.deep.equal(['a', 'c']);
  });
});

describe('Entra: token errors', () => {
  const config = resolveConfig({ tenantId: 'contoso.onmicrosoft.com', clientId: 'client' });

  function aadError(status: number, error: string, code: number, text: string): oidc.ResponseBodyError {
    const body = {
      error,
      error_description: `AADSTS${code}: ${text}\r\nTrace ID: 1\r\nCorrelation ID: 2\r\nTimestamp: 2024-01-01 00:00:00Z`,
      error_codes: [code],
    };
    const response = new Response(JSON.stringify(body), { status, headers: { 'retry-after': '7' } });
    return new (oidc.ResponseBodyError as any)('server responded with an error in the response body', { cause: body, response });
  }

  const cases: [number, string, number, string, string][] = [
    [401, 'invalid_client', 7000215, 'Invalid client secret provided.', 'InvalidCredentials'],
    [401, 'invalid_client', 7000222, 'The provided client secret keys for app are expired.', 'InvalidCredentials'],
    [401, 'invalid_client', 700027, 'Client assertion failed signature validation.', 'InvalidCredentials'],
    [400, 'unauthorized_client', 700016, "Application with identifier 'client' was not found in the directory.", 'InvalidConfiguration'],
    [400, 'invalid_request', 90002, "Tenant 'contoso.onmicrosoft.com' not found.", 'InvalidConfiguration'],
  ];
  for (const [status, error, code, text, reason] of cases) {
    it(`maps AADSTS${code} to ${reason} with the first line of its text`, () => {
      const err = tokenError(aadError(status, error, code, text), config, Date.now());
      expect(err).to.be.instanceOf(StallError);
      expect(err.reason).to.equal(reason);
      expect(err.message).to.contain(`AADSTS${code}: ${text}`);
      expect(err.message).not.to.contain('Trace ID');
    });
  }

  it('maps throttling and outages of the token endpoint to transient errors with Retry-After', () => {
    const throttled = tokenError(aadError(429, 'temporarily_unavailable', 50196, 'Too many requests.'), config, Date.now());
    expect(throttled).to.be.instanceOf(TransientError).with.property('reason', 'RateLimited');
    expect((throttled as TransientError).retryAfterMs).to.equal(7000);
    const down = tokenError(aadError(503, 'temporarily_unavailable', 90033, 'A transient error has occurred.'), config, Date.now());
    expect(down).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
  });

  it('maps a network failure to NetworkError', () => {
    const err = tokenError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }), config, Date.now());
    expect(err).to.be.instanceOf(TransientError).with.property('reason', 'NetworkError');
    expect(err.message).to.contain('ECONNREFUSED');
  });

  it('keeps only the first line of an AADSTS description', () => {
    expect(aadstsText('AADSTS90002: Tenant not found.\r\nTrace ID: abc')).to.equal('AADSTS90002: Tenant not found.');
    expect(aadstsText(undefined)).to.equal(undefined);
  });
});

describe('Entra: settings', () => {
  it('applies the defaults of the API', () => {
    const config = resolveConfig({ tenantId: 't', clientId: 'c' });
    expect(config).to.include({
      groups: 'All',
      appId: 'c',
      delta: true,
      tokenEndpoint: 'https://login.microsoftonline.com/t/oauth2/v2.0/token',
      scope: 'https://graph.microsoft.com/.default',
      graphBase: 'https://graph.microsoft.com/v1.0',
    });
  });

  it('derives the scope from graphUrl for national clouds', () => {
    const config = resolveConfig({ tenantId: 't', clientId: 'c', loginUrl: 'https://login.microsoftonline.us/', graphUrl: 'https://graph.microsoft.us' });
    expect(config.tokenEndpoint).to.equal('https://login.microsoftonline.us/t/oauth2/v2.0/token');
    expect(config.scope).to.equal('https://graph.microsoft.us/.default');
  });

  it('refuses plain HTTP unless it is loopback and allowed', () => {
    expect(() => resolveConfig({ tenantId: 't', clientId: 'c', graphUrl: 'http://graph.example' }, true)).to.throw(StallError, /https/);
    expect(() => resolveConfig({ tenantId: 't', clientId: 'c', loginUrl: 'http://127.0.0.1:1' })).to.throw(StallError);
    expect(resolveConfig({ tenantId: 't', clientId: 'c', loginUrl: 'http://127.0.0.1:1' }, true).insecureLogin).to.equal(true);
  });

  it('requires tenantId and clientId', () => {
    expect(() => resolveConfig({ clientId: 'c' })).to.throw(StallError, /tenantId/);
    expect(() => resolveConfig({ tenantId: 't', clientId: ' ' })).to.throw(StallError, /clientId/);
  });
});

describe('Entra: certificate thumbprints', () => {
  it('match the SHA-256 and SHA-1 fingerprints openssl computes', () => {
    const { certificate } = selfSignedCertificate('thumbprint');
    const fingerprint = (alg: string) => {
      const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', `-${alg}`], { input: certificate }).toString();
      return Buffer.from(out.split('=')[1].trim().replace(/:/g, ''), 'hex').toString('base64url');
    };
    expect(certificateThumbprints(certificate)).to.deep.equal({ sha256: fingerprint('sha256'), sha1: fingerprint('sha1') });
  });
});
