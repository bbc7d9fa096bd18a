import { expect } from 'chai';
import { ScimError } from '../../../src/scim/errors.js';
import { applyPatch, operationsOf, type PatchOperation } from '../../../src/scim/patch.js';
import { clean } from '../../../src/scim/resources.js';
import type { Json, ResourceKind } from '../../../src/scim/attributes.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

interface Case {
  quirk: string;
  kind?: ResourceKind;
  before: Json;
  ops: unknown[];
  after: Json;
}

const CASES: Case[] = [
  {
    quirk: 'Entra: capitalised Replace with a string boolean disables',
    before: { userName: 'a', active: true },
    ops: [{ op: 'Replace', path: 'active', value: 'False' }],
    after: { userName: 'a', active: false },
  },
  {
    quirk: 'Entra: Add on active with "True"',
    before: { userName: 'a', active: false },
    ops: [{ op: 'Add', path: 'active', value: 'True' }],
    after: { userName: 'a', active: true },
  },
  {
    quirk: 'Entra: emails[type eq "work"].value creates the work email when absent',
    before: { userName: 'a' },
    ops: [{ op: 'Add', path: 'emails[type eq "work"].value', value: 'a@x.io' }],
    after: { userName: 'a', emails: [{ type: 'work', value: 'a@x.io' }] },
  },
  {
    quirk: 'Entra: emails[type eq "work"].value replaces only the work email',
    before: { userName: 'a', emails: [{ type: 'home', value: 'h@x.io' }, { type: 'work', value: 'old@x.io' }] },
    ops: [{ op: 'Replace', path: 'emails[type eq "work"].value', value: 'new@x.io' }],
    after: { userName: 'a', emails: [{ type: 'home', value: 'h@x.io' }, { type: 'work', value: 'new@x.io' }] },
  },
  {
    quirk: 'Entra: name.familyName on a user without a name',
    before: { userName: 'a' },
    ops: [{ op: 'Add', path: 'name.familyName', value: 'Lovelace' }],
    after: { userName: 'a', name: { familyName: 'Lovelace' } },
  },
  {
    quirk: 'Entra: URN path is not split on the dots of "2.0"',
    before: { userName: 'a' },
    ops: [{ op: 'Add', path: `${ENT}:employeeNumber`, value: '42' }],
    after: { userName: 'a', [ENT]: { employeeNumber: '42' } },
  },
  {
    quirk: 'Entra: URN path to a sub-attribute (manager.value)',
    before: { userName: 'a', [ENT]: { department: 'R&D' } },
    ops: [{ op: 'Replace', path: `${ENT}:manager.value`, value: 'm1' }],
    after: { userName: 'a', [ENT]: { department: 'R&D', manager: { value: 'm1' } } },
  },
  {
    quirk: 'aadOptscim062020: path-less replace with dotted and URN keys and a real boolean',
    before: { userName: 'a', active: true, name: { givenName: 'A', familyName: 'B' } },
    ops: [{ op: 'replace', value: { 'name.givenName': 'Ada', [`${ENT}:department`]: 'Ops', active: false } }],
    after: { userName: 'a', active: false, name: { givenName: 'Ada', familyName: 'B' }, [ENT]: { department: 'Ops' } },
  },
  {
    quirk: 'path-less add with the extension as a nested object',
    before: { userName: 'a' },
    ops: [{ op: 'add', value: { [ENT]: { costCenter: 'C1' } } }],
    after: { userName: 'a', [ENT]: { costCenter: 'C1' } },
  },
  {
    quirk: 'attribute names match ignoring case and keep the stored spelling',
    before: { userName: 'a', displayName: 'A' },
    ops: [{ op: 'replace', path: 'DISPLAYNAME', value: 'Ada' }],
    after: { userName: 'a', displayName: 'Ada' },
  },
  {
    quirk: 'Okta: path-less replace {active:false}',
    before: { userName: 'a', active: true },
    ops: [{ op: 'replace', value: { active: false } }],
    after: { userName: 'a', active: false },
  },
  {
    quirk: 'Okta: rename carries the read-only id, which is ignored',
    kind: 'Group',
    before: { displayName: 'Old', members: [] },
    ops: [{ op: 'replace', value: { id: 'g1', displayName: 'New' } }],
    after: { displayName: 'New', members: [] },
  },
  {
    quirk: 'Entra: Remove members with a value list removes ONLY those',
    kind: 'Group',
    before: { displayName: 'G', members: [{ value: 'u1' }, { value: 'u2' }, { value: 'u3' }] },
    ops: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: 'u2' }] }],
    after: { displayName: 'G', members: [{ value: 'u1' }, { value: 'u3' }] },
  },
  {
    quirk: 'Remove members without a value empties the list (RFC)',
    kind: 'Group',
    before: { displayName: 'G', members: [{ value: 'u1' }] },
    ops: [{ op: 'remove', path: 'members' }],
    after: { displayName: 'G', members: [] },
  },
  {
    quirk: 'Okta/aadOptscim062020: members[value eq "x"] removal',
    kind: 'Group',
    before: { displayName: 'G', members: [{ value: 'u1' }, { value: 'u2' }] },
    ops: [{ op: 'remove', path: 'members[value eq "u1"]' }],
    after: { displayName: 'G', members: [{ value: 'u2' }] },
  },
  {
    quirk: 'JumpCloud: repeated member adds are idempotent',
    kind: 'Group',
    before: { displayName: 'G', members: [{ value: 'u1' }] },
    ops: [
      { op: 'add', path: 'members', value: [{ value: 'u1' }, { value: 'u2' }] },
      { op: 'add', path: 'members', value: [{ value: 'u2' }] },
    ],
    after: { displayName: 'G', members: [{ value: 'u1' }, { value: 'u2' }] },
  },
  {
    quirk: 'Okta: full push replace members with []',
    kind: 'Group',
    before: { displayName: 'G', members: [{ value: 'u1' }] },
    ops: [{ op: 'replace', path: 'members', value: [] }],
    after: { displayName: 'G', members: [] },
  },
  {
    quirk: 'several changes in one PATCH apply in order',
    kind: 'Group',
    before: { displayName: 'G', members: [{ value: 'u1' }] },
    ops: [
      { op: 'Add', path: 'members', value: [{ value: 'u2' }] },
      { op: 'Remove', path: 'members', value: [{ value: 'u1' }] },
      { op: 'Replace', path: 'displayName', value: 'H' },
    ],
    after: { displayName: 'H', members: [{ value: 'u2' }] },
  },
];

describe('SCIM PATCH as clients send it', () => {
  for (const c of CASES) {
    it(c.quirk, () => {
      const kind = c.kind ?? 'User';
      const result = clean(kind, applyPatch(kind, c.before, operationsOf({ Operations: c.ops })));
      expect(result).to.deep.equal(c.after);
    });
  }

  const refusals: [string, unknown[], string][] = [
    ['remove without a path', [{ op: 'remove' }], 'noTarget'],
    ['an unknown op', [{ op: 'move', path: 'x' }], 'invalidSyntax'],
    ['path-less replace with a non-object value', [{ op: 'replace', value: 'x' }], 'invalidValue'],
    ['an unclosed value filter', [{ op: 'replace', path: 'emails[type eq "work".value', value: 'x' }], 'invalidPath'],
    ['a value filter that cannot create an element', [{ op: 'add', path: 'emails[value co "x"].type', value: 'work' }], 'noTarget'],
  ];
  for (const [what, ops, scimType] of refusals) {
    it(`refuses ${what} with scimType ${scimType}`, () => {
      let error: unknown;
      try {
        applyPatch('User', { userName: 'a' }, operationsOf({ Operations: ops }));
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(ScimError);
      expect((error as ScimError).status).to.equal(400);
      expect((error as ScimError).scimType).to.equal(scimType);
    });
  }

  it('never changes the resource it was given', () => {
    const before = { userName: 'a', active: true };
    applyPatch('User', before, [{ op: 'replace', path: 'active', value: false }] as PatchOperation[]);
    expect(before.active).to.equal(true);
  });

  it('accepts "operations" in any case', () => {
    expect(operationsOf({ operations: [{ op: 'ADD', path: 'x', value: 1 }] })).to.deep.equal([{ op: 'add', path: 'x', value: 1 }]);
  });
});
