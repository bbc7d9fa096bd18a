import { Type, type Static } from '@sinclair/typebox';
import { type KindDefinition } from './common.js';

/** Group.spec.members lists at most this many logins; memberCount is always exact; User.spec.groups lists every group up to its own cap (MAX_LISTED_GROUPS). */
export const MAX_LISTED_MEMBERS = 1000;

/** Group.spec.parents and children list at most this many groups each (the first, sorted); parentCount and childCount then give the number. */
export const MAX_LISTED_NESTING = 1000;

export const GroupSpec = Type.Object(
  {
  directory: Type.String({ description: 'The DirectorySync this group comes from.' }),
  idpId: Type.String({ maxLength: 512, description: 'The IdP\'s id for this group; the object name never changes when the group is renamed.' }),
  displayName: Type.String({ maxLength: 1024, description: 'The group\'s current name in the IdP.' }),
  kind: Type.Union([Type.Literal('Group'), Type.Literal('OrgUnit')], { description: 'Group, or OrgUnit for an organisational unit (spec.syncOrgUnits).' }),
  description: Type.Optional(Type.String({ maxLength: 4096, description: 'The group\'s description in the IdP.' })),
  memberCount: Type.Integer({ minimum: 0, description: 'Active members after flattening nested groups.' }),
  directMemberCount: Type.Integer({ minimum: 0, description: 'Active members listed in the group itself, not through a nested group.' }),
  members: Type.Array(Type.String(), {
    maxItems: MAX_LISTED_MEMBERS,
    description: `Logins of active members after flattening, sorted; at most ${MAX_LISTED_MEMBERS} (see memberCount; every User lists its groups up to its own cap).`,
  }),
  parents: Type.Array(Type.String(), { maxItems: MAX_LISTED_NESTING, description: `Group objects this group is nested in, sorted; at most ${MAX_LISTED_NESTING} (see parentCount).` }),
  children: Type.Array(Type.String(), { maxItems: MAX_LISTED_NESTING, description: `Group objects nested in this group, sorted; at most ${MAX_LISTED_NESTING} (see childCount).` }),
  parentCount: Type.Optional(Type.Integer({ minimum: 0, description: 'Set only when parents is capped: how many synced groups this group is nested in.' })),
  childCount: Type.Optional(Type.Integer({ minimum: 0, description: 'Set only when children is capped: how many synced groups are nested in this group.' })),
  },
  { description: 'Written by the operator from the IdP: one group, its nesting and its flattened members.' },
);
export type GroupSpec = Static<typeof GroupSpec>;

/** Empty: the Policies granting through a Group are found by label (idpsync.io/group), not counted here. */
export const GroupStatus = Type.Object({});

export const GroupKind: KindDefinition = {
  kind: 'Group',
  plural: 'groups',
  singular: 'group',
  shortNames: ['idpgroup'],
  description: 'A group or organisational unit in an identity provider directory, written by a DirectorySync.',
  spec: GroupSpec,
  status: GroupStatus,
  printerColumns: [
    { name: 'Display Name', type: 'string', jsonPath: '.spec.displayName' },
    { name: 'Kind', type: 'string', jsonPath: '.spec.kind' },
    { name: 'Members', type: 'integer', jsonPath: '.spec.memberCount' },
    { name: 'Directory', type: 'string', jsonPath: '.spec.directory' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    { name: 'Parents', type: 'string', jsonPath: '.spec.parents', priority: 1 },
  ],
};
