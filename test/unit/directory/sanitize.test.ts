import { expect } from 'chai';
import { RECORD_LIMITS, clip, sanitizeSnapshot } from '../../../src/directory/sanitize.js';
import { group, snapshot, user } from '../../support/builders.js';

describe('directory/sanitizeSnapshot: one bad record never stops a directory', () => {
  it('keeps records within the limits as they are, the same objects', () => {
    const input = snapshot([user('u1')], [group('g1', 'Eng', ['u1'])]);
    const out = sanitizeSnapshot(input);
    expect(out.refused).to.deep.equal([]);
    expect(out.shortened).to.equal(0);
    expect(out.snapshot.users[0]).to.equal(input.users[0]);
  });

  it('shortens what can be shortened and leaves out an email that would be wrong if cut', () => {
    const out = sanitizeSnapshot(
      snapshot(
        [user('u1', 'ann@x.io', { displayName: 'A'.repeat(600), email: `${'e'.repeat(600)}@x.io`, idpStatus: 'S'.repeat(80) })],
        [group('g1', 'G'.repeat(1100), [], [], { description: 'd'.repeat(5000) })],
      ),
    );
    const [u] = out.snapshot.users;
    expect(u.displayName).to.have.length(RECORD_LIMITS.userDisplayName);
    expect(u.displayName!.endsWith('…')).to.equal(true);
    expect(u).to.not.have.property('email');
    expect(u.idpStatus).to.have.length(RECORD_LIMITS.idpStatus);
    expect(out.snapshot.groups[0].name).to.have.length(RECORD_LIMITS.groupDisplayName);
    expect(out.snapshot.groups[0].description).to.have.length(RECORD_LIMITS.description);
    expect(out.shortened).to.equal(2);
    expect(out.refused).to.deep.equal([]);
  });

  it('refuses what cannot be stored, one record at a time, with a reason', () => {
    const out = sanitizeSnapshot(
      snapshot(
        [user('u1'), user('u1', 'again@x.io'), user('', 'noid@x.io'), user('u3', 'l'.repeat(600)), user('i'.repeat(600)), user('u5')],
        [group('g1', 'A'), group('g1', 'B')],
      ),
    );
    expect(out.snapshot.users.map((u) => u.id)).to.deep.equal(['u1', 'u5']);
    expect(out.snapshot.users[0].login).to.equal('u1@example.com');
    // Its index gives each kept record's position among those kept, and knows no refused id.
    expect([...out.userAt]).to.deep.equal([['u1', 0], ['u5', 1]]);
    expect([...out.groupAt]).to.deep.equal([['g1', 0]]);
    expect(out.snapshot.groups.map((g) => g.name)).to.deep.equal(['A']);
    expect(out.refused.map((r) => `${r.kind} ${r.idpId.slice(0, 8)}: ${r.reason.split(',')[0]}`)).to.deep.equal([
      'User u1: its id is listed more than once by the IdP; the first record with this id is used',
      'User : it has an empty id',
      'User u3: its login is 600 characters long',
      'User iiiiiiii: its id is 600 characters long',
      'Group g1: its id is listed more than once by the IdP; the first record with this id is used',
    ]);
    expect(out.refused[3].idpId.length, 'a refused id is quoted only in part').to.be.at.most(64);
  });

  it('never cuts a surrogate pair in half', () => {
    expect(clip('ab😀cd', 4)).to.equal('ab…');
    expect(clip('abc', 4)).to.equal('abc');
  });
});
