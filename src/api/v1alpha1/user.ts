import { Type, type Static } from '@sinclair/typebox';
import { Timestamp, type KindDefinition } from './common.js';

export const USER_STATES = ['Active', 'Suspended', 'Deleted'] as const;
export const ROLES = ['User', 'Admin'] as const;

const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));

export const UserSpec = Type.Object({
  directory: Type.String({ description: 'The DirectorySync this person comes from.' }),
  idpId: Type.String({ maxLength: 512, description: 'The IdP\'s id for this person.' }),
  login: Type.String({ maxLength: 512, description: 'Sign-in name, usually an email address.' }),
  email: Type.Optional(Type.String({ maxLength: 512 })),
  displayName: Type.Optional(Type.String({ maxLength: 512 })),
  state: Type.Union(USER_STATES.map((s) => Type.Literal(s)), { description: 'Active, Suspended or Deleted (kept for audit).' }),
  idpStatus: Type.Optional(Type.String({ maxLength: 64, description: 'The IdP\'s own word for the state.' })),
  groups: Type.Array(Type.String(), {
    maxItems: 5000,
    description: 'Group objects this user belongs to after flattening nested groups (empty unless Active).',
  }),
  role: Type.Optional(
    Type.Union(ROLES.map((r) => Type.Literal(r)), {
      description: 'Set by an admin to override the role; never changed by the operator.',
    }),
  ),
});
export type UserSpec = Static<typeof UserSpec>;

export const UserStatus = Type.Object({
  role: Type.Optional(Role),
  roleSource: Type.Optional(Type.String({ description: 'Why this role: Default, Mapping (group name) or Override.' })),
  stateSince: Type.Optional(Timestamp('When the current state was first seen.')),
  revokedAt: Type.Optional(Timestamp('When access was last revoked (suspension, deletion or removal from all groups).')),
  deleteAfter: Type.Optional(Timestamp('Deleted users are removed after this time.')),
});
export type UserStatus = Static<typeof UserStatus>;

export const UserKind: KindDefinition = {
  kind: 'User',
  plural: 'users',
  singular: 'user',
  shortNames: ['idpuser'],
  description: 'A person in an identity provider directory, written by a DirectorySync.',
  spec: UserSpec,
  status: UserStatus,
  printerColumns: [
    { name: 'Login', type: 'string', jsonPath: '.spec.login' },
    { name: 'State', type: 'string', jsonPath: '.spec.state' },
    { name: 'Role', type: 'string', jsonPath: '.status.role' },
    { name: 'Directory', type: 'string', jsonPath: '.spec.directory' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    { name: 'Groups', type: 'string', jsonPath: '.spec.groups', priority: 1 },
  ],
};
