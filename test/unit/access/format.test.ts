import { expect } from 'chai';
import { accessOfUser, whoCanReach } from '../../../src/access/resolve.js';
import { formatReach, formatUserAccess } from '../../../src/access/format.js';
import { group, policy, user } from './builders.js';

const groups = [group('eng', 'Engineering'), group('devops', 'DevOps')];
const policies = [
  policy('web', 'eng', ['*.corp.example', { address: '10.0.0.0/8', ports: ['443', '8000-8100'], protocols: ['TCP'] }]),
  policy('db-admins', 'devops', [{ address: '10.20.0.0/16', ports: ['5432'], protocols: ['TCP'] }]),
];

describe('formatUserAccess', () => {
  it('answers in a header, then aligned POLICY GROUP ADDRESS PORTS PROTOCOLS columns', () => {
    const text = formatUserAccess(accessOfUser(user('alice', ['eng', 'devops']), groups, policies));
    expect(text.split('\n')).to.deep.equal([
      'alice@corp.example (Active) can reach 3 resource(s) through 2 policy(ies):',
      'POLICY     GROUP        ADDRESS         PORTS          PROTOCOLS',
      'db-admins  DevOps       10.20.0.0/16    5432           TCP',
      'web        Engineering  *.corp.example  all            all',
      'web        Engineering  10.0.0.0/8      443,8000-8100  TCP',
    ]);
  });

  it('says a suspended user has no access and why, with the revocation time when known', () => {
    const suspended = user('bob', [], { state: 'Suspended' });
    suspended.status = { revokedAt: '2024-05-01T10:00:00Z' };
    const text = formatUserAccess(accessOfUser(suspended, groups, policies));
    expect(text).to.equal(
      'bob@corp.example (Suspended) has no access: the user is suspended in the IdP, and Policies grant access to Active users only. Access was revoked at 2024-05-01T10:00:00Z.',
    );
    expect(formatUserAccess(accessOfUser(user('dan', [], { state: 'Deleted' }), groups, policies))).to.match(/^dan@corp\.example \(Deleted\) has no access: the user is deleted/);
  });

  it('says an Active user without grants has no access, and lists Policies that name their groups but grant nothing', () => {
    expect(formatUserAccess(accessOfUser(user('erin', []), groups, policies))).to.equal('erin@corp.example (Active) has no access: the user is in no group.');
    const inert = [policy('web', 'eng', ['10.0.0.0/8'], { ready: 'False' })];
    expect(formatUserAccess(accessOfUser(user('erin', ['eng']), groups, inert)).split('\n')).to.deep.equal([
      'erin@corp.example (Active) has no access: no Ready Policy grants access through any of their 1 group(s).',
      '',
      'Policies naming their groups that grant nothing:',
      '  web (group eng): not Ready (False, GroupNotFound: no Group matches)',
    ]);
  });

  it('names the directory when asked to, for several Users matching one key', () => {
    expect(formatUserAccess(accessOfUser(user('erin', []), groups, policies), { showDirectory: true })).to.match(/^erin@corp\.example \(Active, directory corp\) has no access/);
  });
});

describe('formatReach', () => {
  const users = [user('alice', ['eng', 'devops']), user('zoe', ['eng'])];

  it('counts distinct users and lists each covering resource with its users', () => {
    const query = { address: '10.20.3.4', port: 5432, protocol: 'TCP' };
    expect(formatReach(query, whoCanReach(query, users, groups, policies)).split('\n')).to.deep.equal([
      '1 user(s) can reach 10.20.3.4 port 5432 over TCP through 1 policy(ies):',
      'POLICY     GROUP   ADDRESS       PORTS  PROTOCOLS  USERS',
      'db-admins  DevOps  10.20.0.0/16  5432   TCP        alice@corp.example',
    ]);
    const https = { address: '10.20.3.4', port: 443 };
    expect(formatReach(https, whoCanReach(https, users, groups, policies))).to.match(
      /^2 user\(s\) can reach 10\.20\.3\.4 port 443 through 1 policy\(ies\):\n.*\nweb +Engineering +10\.0\.0\.0\/8 +443,8000-8100 +TCP +alice@corp\.example,zoe@corp\.example$/,
    );
  });

  it('says nobody can reach an uncovered address, and that DNS resources are not resolved for an IP', () => {
    expect(formatReach({ address: '192.168.1.1' }, [])).to.equal(
      'Nobody can reach 192.168.1.1: no Ready Policy covers it (resources named by DNS are matched by name, not resolved).',
    );
    expect(formatReach({ address: 'mail.example.org', protocol: 'udp' }, [])).to.equal('Nobody can reach mail.example.org over UDP: no Ready Policy covers it.');
  });
});
