import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import { nextLink, type IdpHttpClient } from '../../../src/providers/http.js';
import { OktaApi } from '../../../src/providers/okta/api.js';
import { toUser, userState } from '../../../src/providers/okta/model.js';
import { classify, errorText, pauseFromHeaders } from '../../../src/providers/okta/responses.js';
import { importPrivateKey, scopesNamedIn } from '../../../src/providers/okta/auth.js';
import { scopesFor } from '../../../src/providers/okta/driver.js';
import { StallError, TransientError } from '../../../src/errors.js';

const rateLimit = (limit: number, remaining: number, reset: number) =>
  new Headers({ 'x-rate-limit-limit': String(limit), 'x-rate-limit-remaining': String(remaining), 'x-rate-limit-reset': String(reset) });

describe('Okta driver pieces', () => {
  describe('Link headers', () => {
    it('finds rel="next" after rel="self", as Okta sends them', () => {
      const header =
        '<https://acme.okta.com/api/v1/users?limit=200>; rel="self", ' +
        '<https://acme.okta.com/api/v1/users?after=00u1xyz&limit=200>; rel="next"';
      expect(nextLink(header)).to.equal('https://acme.okta.com/api/v1/users?after=00u1xyz&limit=200');
    });

    it('has no next on the last page', () => {
      expect(nextLink('<https://acme.okta.com/api/v1/users?after=00u9&limit=200>; rel="self"')).to.equal(undefined);
      expect(nextLink(null)).to.equal(undefined);
    });
  });

  describe('user status', () => {
    const cases: [string, string][] = [
      ['ACTIVE', 'Active'],
      ['LOCKED_OUT', 'Active'],
      ['PASSWORD_EXPIRED', 'Active'],
      ['RECOVERY', 'Active'],
      ['SUSPENDED', 'Suspended'],
      ['STAGED', 'Suspended'],
      ['PROVISIONED', 'Suspended'],
      ['DEPROVISIONED', 'Deleted'],
      ['SOMETHING_NEW', 'Suspended'],
    ];
    for (const [okta, ours] of cases) {
      it(`${okta} → ${ours}`, () => expect(userState(okta)).to.equal(ours));
    }

    it('keeps Okta\'s word and builds a display name', () => {
      const user = toUser({ id: '00u1', status: 'LOCKED_OUT', profile: { login: 'a@x.io', email: 'a@x.io', firstName: 'Ada', lastName: 'Lovelace' } });
      expect(user).to.deep.equal({ id: '00u1', login: 'a@x.io', email: 'a@x.io', displayName: 'Ada Lovelace', state: 'Active', idpStatus: 'LOCKED_OUT' });
      expect(toUser({ id: '00u2', status: 'ACTIVE', profile: { login: 'b', displayName: 'Bea', firstName: 'B' } }).displayName).to.equal('Bea');
      expect(toUser({ id: '00u3', status: 'ACTIVE', profile: { login: 'c' } })).to.not.have.property('displayName');
    });

    it('rejects a user without a login as malformed', () => {
      expect(() => toUser({ id: '00u1', status: 'ACTIVE', profile: {} }))
        .to.throw(TransientError)
        .with.property('reason', 'MalformedResponse');
    });
  });

  describe('rate-limit headers', () => {
    const now = 1_750_000_000_000;
    const reset = now / 1000 + 42;

    it('keeps going while more than 10% of the budget is left', () => {
      expect(pauseFromHeaders(rateLimit(600, 61, reset), now)).to.equal(undefined);
    });

    it('pauses until the reset once less than 10% is left', () => {
      expect(pauseFromHeaders(rateLimit(600, 59, reset), now)).to.equal(42_000);
      expect(pauseFromHeaders(rateLimit(600, 0, reset), now)).to.equal(42_000);
    });

    it('keeps as many calls in reserve as may be in flight', () => {
      expect(pauseFromHeaders(rateLimit(20, 3, reset), now, 4)).to.equal(42_000);
      expect(pauseFromHeaders(rateLimit(20, 4, reset), now, 4)).to.equal(undefined);
    });

    it('ignores missing or nonsensical headers, and never waits on a reset in the past', () => {
      expect(pauseFromHeaders(new Headers(), now)).to.equal(undefined);
      expect(pauseFromHeaders(rateLimit(0, 0, reset), now)).to.equal(undefined);
      expect(pauseFromHeaders(rateLimit(600, 0, now / 1000 - 5), now)).to.equal(0);
    });

    it('turns a 429 into RateLimited with the wait X-Rate-Limit-Reset implies', () => {
      const err = classify(429, { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.' }, rateLimit(600, 0, reset), 'https://acme.okta.com/api/v1/users', now);
      expect(err).to.be.instanceOf(TransientError);
      expect((err as TransientError).reason).to.equal('RateLimited');
      expect((err as TransientError).retryAfterMs).to.equal(42_000);
      expect(err!.message).to.include('E0000047').and.include('/api/v1/users');
      expect(classify(500, {}, new Headers(), 'x', now)).to.equal(undefined);
    });
  });

  it('quotes Okta\'s error code and summary', () => {
    expect(errorText({ errorCode: 'E0000006', errorSummary: 'You do not have permission to perform the requested action', errorCauses: [] })).to.equal(
      'E0000006: You do not have permission to perform the requested action',
    );
    expect(errorText({ errorCode: 'E0000001', errorSummary: 'Api validation failed: limit', errorCauses: [{ errorSummary: 'limit: too big' }] })).to.equal(
      'E0000001: Api validation failed: limit limit: too big',
    );
    expect(errorText(undefined)).to.equal(undefined);
  });

  it('asks for okta.apps.read only in app-assigned mode', () => {
    expect(scopesFor({})).to.deep.equal(['okta.users.read', 'okta.groups.read']);
    expect(scopesFor({ appId: '0oa1' })).to.deep.equal(['okta.users.read', 'okta.groups.read', 'okta.apps.read']);
  });

  it('finds the scopes Okta names in an error description', () => {
    const requested = ['okta.users.read', 'okta.groups.read'];
    expect(scopesNamedIn('The following scopes are not allowed: okta.groups.read', requested)).to.deep.equal(['okta.groups.read']);
    expect(scopesNamedIn('The requested scope is invalid, unknown, or malformed.', requested)).to.deep.equal([]);
  });

  describe('private keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

    it('reads a PKCS#8 PEM, a PKCS#1 PEM and a private JWK', async () => {
      const pkcs8 = await importPrivateKey(rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 'kid-1');
      expect(pkcs8.key.algorithm.name).to.equal('RSASSA-PKCS1-v1_5');
      expect(pkcs8.kid).to.equal('kid-1');
      const pkcs1 = await importPrivateKey(rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString());
      expect(pkcs1.key.type).to.equal('private');
      const jwk = await importPrivateKey(JSON.stringify({ ...ec.privateKey.export({ format: 'jwk' }), kid: 'from-jwk' }));
      expect(jwk.key.algorithm.name).to.equal('ECDSA');
      expect(jwk.kid).to.equal('from-jwk');
    });

    it('refuses a public key without echoing it', async () => {
      const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
      let err: unknown;
      try {
        await importPrivateKey(pem);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(StallError);
      expect((err as StallError).reason).to.equal('InvalidConfiguration');
      expect((err as StallError).message).to.not.include('BEGIN');
    });
  });
});

describe('Okta list paging', () => {
  const base = new URL('https://acme.okta.com');
  const auth = { authorization: async () => 'SSWS t', withAuthorization: <T>(call: (a: string) => Promise<T>) => call('SSWS t') };

  /** An IdpHttpClient stand-in answering from a table of pages keyed by URL. */
  function apiWith(pages: Record<string, { body: unknown; link?: string }>) {
    const asked: string[] = [];
    const http = {
      getJson: async (url: URL | string) => {
        asked.push(String(url));
        const page = pages[String(url)];
        if (!page) throw new Error(`unexpected ${url}`);
        return { status: 200, headers: new Headers(page.link ? { link: page.link } : {}), body: page.body };
      },
    };
    return { api: new OktaApi(http as unknown as IdpHttpClient, auth, base, 'API token'), asked };
  }

  const first = 'https://acme.okta.com/api/v1/users?limit=2';
  const second = 'https://acme.okta.com/api/v1/users?after=b&limit=2';

  it('reads every page in order', async () => {
    const { api, asked } = apiWith({
      [first]: { body: [{ id: 'a' }, { id: 'b' }], link: `<${first}>; rel="self", <${second}>; rel="next"` },
      [second]: { body: [{ id: 'c' }], link: `<${second}>; rel="self"` },
    });
    expect(await api.list(new URL(first), 'okta.users.read')).to.deep.equal([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    expect(asked).to.deep.equal([first, second]);
  });

  async function listError(pages: Record<string, { body: unknown; link?: string }>): Promise<TransientError> {
    try {
      await apiWith(pages).api.list(new URL(first), 'okta.users.read');
    } catch (err) {
      return err as TransientError;
    }
    throw new Error('expected a failure');
  }

  it('refuses a next link to another host, which would receive the credentials', async () => {
    const err = await listError({ [first]: { body: [], link: '<https://evil.example.com/api/v1/users?after=b>; rel="next"' } });
    expect(err.reason).to.equal('MalformedResponse');
    expect(err.message).to.include('evil.example.com');
  });

  it('refuses a page that is not an array, and a next link going round in circles', async () => {
    expect((await listError({ [first]: { body: { users: [] } } })).reason).to.equal('MalformedResponse');
    const loop = await listError({
      [first]: { body: [], link: `<${second}>; rel="next"` },
      [second]: { body: [], link: `<${first}>; rel="next"` },
    });
    expect(loop.message).to.match(/already read/);
  });
});
