import { expect } from 'chai';
import { ScimError } from '../../../src/scim/errors.js';
import { parseFilter, quoteBareValues } from '../../../src/scim/filter.js';
import type { Json } from '../../../src/scim/attributes.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const ADA: Json = {
  id: 'A1',
  userName: 'Ada@Example.com',
  externalId: 'ext-Ada',
  active: false,
  name: { givenName: 'Ada', familyName: 'Lovelace' },
  emails: [
    { type: 'home', value: 'ada@home.io' },
    { type: 'work', value: 'ada@example.com', primary: true },
  ],
  [ENT]: { employeeNumber: '101', department: 'R&D' },
};

const TABLE: [string, boolean][] = [
  ['userName eq "ada@example.com"', true],
  ['USERNAME EQ "ADA@EXAMPLE.COM"', true],
  ['userName Eq "ada@example.com"', true],
  ['externalId eq ext-Ada', true],
  ['externalId eq "ext-ada"', false],
  ['id eq "a1"', false],
  ['emails[type eq "work"].value eq "ada@example.com"', true],
  ['emails[type eq "work"].value eq "ada@home.io"', false],
  ['emails[type eq "home"].value pr and userName sw "ada"', true],
  ['EMAILS[TYPE EQ "WORK"].VALUE EQ "ADA@EXAMPLE.COM"', true],
  ['emails[type eq "work" and value co "home"]', false],
  ['emails.value sw "ada@h"', true],
  ['name.familyName co "love"', true],
  ['userName ew ".com"', true],
  ['title pr', false],
  ['name pr', true],
  ['active eq false', true],
  ['active eq true', false],
  [`${ENT}:employeeNumber eq "101"`, true],
  [`${ENT}:department eq "r&d" and userName sw "ada"`, true],
  ['userName eq "x" or name.givenName eq "ada"', true],
  ['not (userName eq "x")', true],
  ['not (userName eq "ada@example.com") or (active eq true and name pr)', false],
  ['userName eq "x" or userName eq "y" and active eq false', false],
  ['(userName eq "x" or userName eq "ada@example.com") and active eq false', true],
  ['userName ne "ada@example.com"', false],
  ['meta.lastModified gt "2000-01-01T00:00:00Z"', false],
];

describe('SCIM filters', () => {
  for (const [filter, expected] of TABLE) {
    it(`${filter} → ${expected}`, () => {
      expect(parseFilter('User', filter)(ADA)).to.equal(expected);
    });
  }

  for (const filter of ['nosuch eq "x"', 'emails[nosuch eq "x"]', `${ENT}:nosuch eq "x"`, 'userName eq', 'userName zz "x"', '(userName eq "x"']) {
    it(`refuses ${filter} with 400 invalidFilter`, () => {
      let error: unknown;
      try {
        parseFilter('User', filter);
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(ScimError);
      expect((error as ScimError).scimType).to.equal('invalidFilter');
    });
  }

  it('matches group members by value, case-sensitively', () => {
    const group = { displayName: 'Ops', members: [{ value: 'U1' }] };
    expect(parseFilter('Group', 'members[value eq "U1"]')(group)).to.equal(true);
    expect(parseFilter('Group', 'members[value eq "u1"]')(group)).to.equal(false);
    expect(parseFilter('Group', 'DisplayName eq "ops"')(group)).to.equal(true);
  });

  it('quotes bare words but leaves JSON literals and quoted strings alone', () => {
    expect(quoteBareValues('externalId eq 5b3f-11 and active eq true and userName eq "a b"')).to.equal('externalId eq "5b3f-11" and active eq true and userName eq "a b"');
  });
});
