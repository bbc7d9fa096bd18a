import { expect } from 'chai';
import { StallError, TransientError } from '../../../src/errors.js';
import { errorText } from '../../../src/providers/zitadel/api.js';
import { issuerOf, parseKeyFile, readCredentials, tokenUrlOf } from '../../../src/providers/zitadel/auth.js';
import { grantsRoles, isPerson, parseGrant, parsePage, parseRole, parseUser, stateOf, toDirectoryUser } from '../../../src/providers/zitadel/model.js';

const human = (extra: Record<string, unknown> = {}) => ({
  userId: '100',
  state: 'USER_STATE_ACTIVE',
  username: 'alice',
  preferredLoginName: 'alice@corp.zitadel.cloud',
  human: { profile: { givenName: 'Alice', familyName: 'Smith', displayName: 'Alice S.' }, email: { email: 'alice@example.com', isVerified: true } },
  ...extra,
});

describe('Zitadel: endpoints', () => {
  it('puts the token endpoint under the instance URL, keeping a path prefix, and uses that URL as the issuer', () => {
    expect(tokenUrlOf(new URL('https://corp.zitadel.cloud')).href).to.equal('https://corp.zitadel.cloud/oauth/v2/token');
    expect(tokenUrlOf(new URL('https://proxy.example.com/zitadel/')).href).to.equal('https://proxy.example.com/zitadel/oauth/v2/token');
    expect(issuerOf(new URL('https://corp.zitadel.cloud/'))).to.equal('https://corp.zitadel.cloud');
  });
});

describe('Zitadel: wire shapes', () => {
  it('reads totalResult as Zitadel sends it (a decimal string) and an empty result without its "result" field', () => {
    expect(parsePage({ details: { totalResult: '2' }, result: [{}, {}] }, 'x')).to.deep.equal({ totalResult: 2, result: [{}, {}] });
    expect(parsePage({ details: { totalResult: 3 }, result: [] }, 'x').totalResult).to.equal(3);
    expect(parsePage({ details: {} }, 'x')).to.deep.equal({ totalResult: 0, result: [] });
  });

  it('refuses what is not a Zitadel search result or object instead of reading it as empty', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => parsePage([], 'POST /v2/users'), /not a search result/],
      [() => parsePage({ result: [] }, 'POST /v2/users'), /not a search result/],
      [() => parsePage({ details: { totalResult: 'many' } }, 'POST /v2/users'), /without a totalResult/],
      [() => parsePage({ details: { totalResult: '1' }, result: {} }, 'POST /v2/users'), /"result" that is not a list/],
      [() => parseUser({ username: 'no-id' }, 'POST /v2/users'), /without userId/],
      [() => parseRole({ displayName: 'no key' }, 'roles'), /without key/],
      [() => parseGrant({ id: 'g1' }, 'grants'), /without id or userId/],
      [() => parseGrant({ id: 'g1', userId: 'u', roleKeys: 'admin' }, 'grants'), /"roleKeys" that is not a list/],
    ];
    for (const [fn, message] of cases) expect(fn).to.throw(TransientError, message);
  });

  it('maps a human: login from the email, else the preferred login name; display name from the profile', () => {
    expect(toDirectoryUser(parseUser(human(), 'x'))).to.deep.equal({
      id: '100',
      login: 'alice@example.com',
      email: 'alice@example.com',
      displayName: 'Alice S.',
      state: 'Active',
      idpStatus: 'USER_STATE_ACTIVE',
    });
    const noEmail = parseUser(human({ human: { profile: { givenName: 'Bob', familyName: 'Baker' } } }), 'x');
    expect(toDirectoryUser(noEmail)).to.include({ login: 'alice@corp.zitadel.cloud', displayName: 'Bob Baker', email: undefined });
  });

  it('tells people from machine users', () => {
    expect(isPerson(parseUser(human(), 'x'))).to.equal(true);
    expect(isPerson(parseUser({ userId: '9', state: 'USER_STATE_ACTIVE', username: 'ci', machine: { name: 'ci' } }, 'x'))).to.equal(false);
  });

  it('maps every user state, and an unknown one to Suspended', () => {
    expect(['USER_STATE_ACTIVE', 'USER_STATE_LOCKED', 'USER_STATE_INACTIVE', 'USER_STATE_INITIAL', 'USER_STATE_DELETED', 'USER_STATE_SOMETHING_NEW'].map(stateOf)).to.deep.equal([
      'Active',
      'Active',
      'Suspended',
      'Suspended',
      'Deleted',
      'Suspended',
    ]);
    expect(parseUser({ userId: '1' }, 'x').state).to.equal('USER_STATE_UNSPECIFIED');
  });

  it('counts only active grants, and de-duplicates their role keys', () => {
    const grant = parseGrant({ id: 'g', userId: 'u', roleKeys: ['a', 'b', 'a'], state: 'USER_GRANT_STATE_ACTIVE' }, 'x');
    expect(grant.roleKeys).to.deep.equal(['a', 'b']);
    expect(grantsRoles(grant)).to.equal(true);
    expect(grantsRoles(parseGrant({ id: 'g', userId: 'u', roleKeys: ['a'], state: 'USER_GRANT_STATE_INACTIVE' }, 'x'))).to.equal(false);
    expect(parseGrant({ id: 'g', userId: 'u' }, 'x').roleKeys).to.deep.equal([]);
  });

  it('reads both error shapes: the REST gateway\'s and Connect\'s', () => {
    expect(errorText({ code: 7, message: 'No matching permissions found (AUTH-5mWD2)', details: [] })).to.equal('No matching permissions found (AUTH-5mWD2)');
    expect(errorText({ code: 'unauthenticated', message: 'invalid audience (APP-Zxfako)' })).to.equal('invalid audience (APP-Zxfako)');
    expect(errorText({})).to.equal(undefined);
  });
});

describe('Zitadel: credentials', () => {
  const keyFile = { type: 'serviceaccount', keyId: '101', key: '-----BEGIN RSA PRIVATE KEY-----\n…', userId: '100' };

  it('takes the key file or the token, whichever the Secret holds', () => {
    expect(readCredentials({ keyFile: JSON.stringify(keyFile) })).to.deep.equal({ keyFile: { keyId: '101', key: keyFile.key, userId: '100' } });
    expect(readCredentials({ token: ' pat \n' })).to.deep.equal({ token: 'pat' });
    expect(readCredentials({ token: 'pat', keyFile: '  ' })).to.deep.equal({ token: 'pat' });
  });

  it('refuses an application key, another type, or missing fields, naming them but not their values', () => {
    expect(() => parseKeyFile(JSON.stringify({ ...keyFile, type: 'application' }))).to.throw(StallError, /API application/);
    expect(() => parseKeyFile(JSON.stringify({ ...keyFile, type: 'oidc' }))).to.throw(StallError, /"oidc" key/);
    expect(() => parseKeyFile(JSON.stringify({ type: 'serviceaccount', key: 'secret-material' }))).to.throw(StallError, /lacks keyId, userId/);
    expect(() => parseKeyFile('[1]')).to.throw(StallError, /JSON object/);
    try {
      parseKeyFile(JSON.stringify({ type: 'serviceaccount', key: 'secret-material' }));
    } catch (err) {
      expect((err as Error).message).to.not.include('secret-material');
    }
  });
});
