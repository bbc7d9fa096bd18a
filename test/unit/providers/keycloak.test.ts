import { expect } from 'chai';
import { TransientError } from '../../../src/errors.js';
import { endpoints } from '../../../src/providers/keycloak/auth.js';
import { errorText } from '../../../src/providers/keycloak/driver.js';
import { parseArray, parseGroup, parseUser, toDirectoryUser } from '../../../src/providers/keycloak/model.js';

describe('Keycloak: endpoints', () => {
  it('builds the token and admin URLs under a server URL with or without a path', () => {
    expect(endpoints(new URL('https://sso.example.com'), 'corp')).to.deep.include({ issuer: 'https://sso.example.com/realms/corp' });
    const legacy = endpoints(new URL('https://sso.example.com/auth/'), 'my realm');
    expect(legacy.tokenUrl.href).to.equal('https://sso.example.com/auth/realms/my%20realm/protocol/openid-connect/token');
    expect(legacy.adminBase.href).to.equal('https://sso.example.com/auth/admin/realms/my%20realm/');
  });
});

describe('Keycloak: wire shapes', () => {
  it('maps enabled to Active and disabled to Suspended, with a display name from first and last name', () => {
    const alice = toDirectoryUser(parseUser({ id: '1', username: 'alice', email: 'a@x.com', firstName: 'Alice', lastName: 'Smith', enabled: true }, 'GET /users'));
    expect(alice).to.deep.equal({ id: '1', login: 'a@x.com', email: 'a@x.com', displayName: 'Alice Smith', state: 'Active', idpStatus: 'enabled' });
    expect(toDirectoryUser(parseUser({ id: '2', username: 'bob', enabled: false }, 'GET /users'))).to.include({ login: 'bob', state: 'Suspended', displayName: undefined });
  });

  it('reads both group shapes: the embedded tree (before 23) and subGroupCount (23 and later)', () => {
    const legacy = parseGroup({ id: 'a', name: 'eng', path: '/eng', subGroups: [{ id: 'b', name: 'ops', path: '/eng/ops', subGroups: [] }] }, 'GET /groups');
    expect(legacy.subGroupCount).to.equal(undefined);
    expect(legacy.subGroups.map((g) => g.id)).to.deep.equal(['b']);
    const current = parseGroup({ id: 'a', name: 'eng', path: '/eng', subGroupCount: 3, subGroups: [] }, 'GET /groups');
    expect(current).to.include({ subGroupCount: 3 });
  });

  it('refuses what is not a Keycloak list or object instead of reading it as empty', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => parseArray({ error: 'x' }, 'GET /users'), /not a JSON array/],
      [() => parseUser({ username: 'no-id' }, 'GET /users'), /without id or username/],
      [() => parseGroup({ id: 'a', name: 'x', subGroups: {} }, 'GET /groups'), /"subGroups" that is not a list/],
      [() => parseGroup({ id: 'a', name: 'x', subGroupCount: -1 }, 'GET /groups'), /"subGroupCount" that is not a count/],
    ];
    for (const [read, message] of cases) {
      expect(read).to.throw(TransientError, message);
    }
  });

  it('reads Keycloak error bodies', () => {
    expect(errorText({ error: 'invalid_client', error_description: 'Invalid client credentials' })).to.equal('invalid_client: Invalid client credentials');
    expect(errorText({ errorMessage: 'User exists' })).to.equal('User exists');
    expect(errorText({})).to.equal(undefined);
  });
});
