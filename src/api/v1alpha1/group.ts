import { Type, type Static } from '@sinclair/typebox';
import { type KindDefinition } from './common.js';

/** Group.spec.members lists at most this many logins; memberCount is always exact and User.spec.groups is complete. */
export const MAX_LISTED_MEMBERS = 1000;

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
    description: `Logins of active members after flattening, sorted; at most ${MAX_LISTED_MEMBERS} (see memberCount; every User lists its groups).`,
  }),
  parents: Type.Array(Type.String(), { description: 'Group objects this group is nested in.' }),
  children: Type.Array(Type.String(), { description: 'Group objects nested in this group.' }),
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
