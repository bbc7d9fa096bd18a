import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { StallError, TransientError, type IdpSyncError } from '../../../src/errors.js';
import { tokenEndpointError } from '../../../src/providers/oauth-errors.js';

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

const oauth = (error: string, description = 'said the IdP') => JSON.stringify({ error, error_description: description });

// Each row: what the token endpoint answers, and the error every driver must turn it into.
const TABLE: { answer: Answer; kind: typeof StallError | typeof TransientError; reason: string; retryAfterMs?: number; says: RegExp }[] = [
  { answer: { status: 401, body: oauth('invalid_client') }, kind: StallError, reason: 'InvalidCredentials', says: /invalid_client: said the IdP/ },
  { answer: { status: 400, body: oauth('invalid_grant') }, kind: StallError, reason: 'InvalidCredentials', says: /invalid_grant/ },
  { answer: { status: 400, body: oauth('unauthorized_client') }, kind: StallError, reason: 'InvalidCredentials', says: /unauthorized_client/ },
  { answer: { status: 400, body: oauth('invalid_scope') }, kind: StallError, reason: 'AccessDenied', says: /invalid_scope/ },
  { answer: { status: 400, body: oauth('invalid_request') }, kind: StallError, reason: 'InvalidConfiguration', says: /answered 400: invalid_request/ },
  {
    answer: { status: 429, headers: { 'retry-after': '7' }, body: oauth('slow_down') },
    kind: TransientError,
    reason: 'RateLimited',
    retryAfterMs: 7000,
    says: /answered 429/,
  },
  { answer: { status: 429, headers: { 'retry-after': '3' }, body: 'Too Many Requests' }, kind: TransientError, reason: 'RateLimited', retryAfterMs: 3000, says: /429/ },
  { answer: { status: 503, headers: { 'retry-after': '2' }, body: oauth('temporarily_unavailable') }, kind: TransientError, reason: 'IdpUnavailable', retryAfterMs: 2000, says: /503/ },
  { answer: { status: 502, body: '<html>Bad gateway</html>' }, kind: TransientError, reason: 'IdpUnavailable', says: /502/ },
  { answer: { status: 404, body: '<html>Not found</html>' }, kind: StallError, reason: 'InvalidConfiguration', says: /404 without an OAuth error; check the token URL/ },
  { answer: { status: 403, body: 'Forbidden by proxy policy' }, kind: StallError, reason: 'InvalidConfiguration', says: /403 without an OAuth error/ },
  { answer: { status: 401, headers: { 'www-authenticate': 'Basic realm="x"' }, body: '' }, kind: StallError, reason: 'InvalidCredentials', says: /refused the client/ },
  { answer: { status: 200, body: '{"token_type":"bearer"}' }, kind: TransientError, reason: 'MalformedResponse', says: /unusable answer/ },
];

describe('token endpoint errors (one rule for every driver)', () => {
  let server: Server;
  let answer: Answer;
  let tokenUrl: string;

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(answer.status, { 'content-type': answer.body?.startsWith('{') ? 'application/json' : 'text/html', ...answer.headers });
        res.end(answer.body ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function requestToken(): Promise<IdpSyncError> {
    const config = new oidc.Configuration({ issuer: 'http://127.0.0.1', token_endpoint: tokenUrl }, 'client', {}, oidc.ClientSecretPost('s3cret'));
    oidc.allowInsecureRequests(config);
    try {
      await oidc.clientCredentialsGrant(config, { scope: 'read' });
    } catch (err) {
      return tokenEndpointError(err, { idpName: 'TestIdP', tokenUrl, now: () => 0 });
    }
    throw new Error('the token request succeeded');
  }

  for (const row of TABLE) {
    it(`${row.answer.status} ${row.answer.body?.slice(0, 40) || '(empty)'} → ${row.kind.name} ${row.reason}`, async () => {
      answer = row.answer;
      const err = await requestToken();
      expect(err).to.be.instanceOf(row.kind);
      expect(err.reason).to.equal(row.reason);
      expect(err.message).to.match(row.says);
      expect(err.message).to.not.include('s3cret');
      if (row.retryAfterMs !== undefined) expect((err as TransientError).retryAfterMs).to.equal(row.retryAfterMs);
    });
  }

  it('lets a driver read an OAuth error its own way before the table', async () => {
    answer = { status: 400, body: oauth('unauthorized_client', 'delegation missing') };
    const config = new oidc.Configuration({ issuer: 'http://127.0.0.1', token_endpoint: tokenUrl }, 'client', {}, oidc.None());
    oidc.allowInsecureRequests(config);
    const err = await oidc.clientCredentialsGrant(config).then(
      () => expect.fail('expected a refusal'),
      (e: unknown) =>
        tokenEndpointError(e, {
          idpName: 'TestIdP',
          tokenUrl,
          refine: (r) => (r.error === 'unauthorized_client' ? new StallError('AccessDenied', r.said, { missingPermission: 'scope-x' }) : undefined),
        }),
    );
    expect(err).to.be.instanceOf(StallError).with.property('missingPermission', 'scope-x');
  });

  it('maps an unreachable endpoint to NetworkError and keeps typed errors as they are', () => {
    const unreachable = tokenEndpointError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }), { idpName: 'TestIdP', tokenUrl: 'https://idp/token' });
    expect(unreachable).to.be.instanceOf(TransientError).with.property('reason', 'NetworkError');
    expect(unreachable.message).to.include('ECONNREFUSED');
    const typed = new StallError('InvalidConfiguration', 'bad key');
    expect(tokenEndpointError(typed, { idpName: 'TestIdP', tokenUrl: 'https://idp/token' })).to.equal(typed);
  });
});
