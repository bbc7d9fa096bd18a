import { Type, type Static } from '@sinclair/typebox';
import { Timestamp, type KindDefinition } from './common.js';

export const USER_STATES = ['Active', 'Suspended', 'Deleted'] as const;
export const ROLES = ['User', 'Admin'] as const;

/** User.spec.groups lists at most this many groups (the first, sorted); groupCount then says how many there are. */
export const MAX_LISTED_GROUPS = 5000;

const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));

export const UserSpec = Type.Object(
  {
  directory: Type.String({ description: 'The DirectorySync this person comes from.' }),
  idpId: Type.String({ maxLength: 512, description: 'The IdP\'s id for this person.' }),
  login: Type.String({ maxLength: 512, description: 'Sign-in name, usually an email address.' }),
  email: Type.Optional(Type.String({ maxLength: 512, description: 'Primary email address in the IdP (left out when over 512 characters).' })),
  displayName: Type.Optional(Type.String({ maxLength: 512, description: 'Full name in the IdP (shortened to 512 characters).' })),
  state: Type.Union(USER_STATES.map((s) => Type.Literal(s)), { description: 'Active, Suspended or Deleted (kept for audit).' }),
  idpStatus: Type.Optional(Type.String({ maxLength: 64, description: 'The IdP\'s own word for the state.' })),
  groups: Type.Array(Type.String(), {
    maxItems: MAX_LISTED_GROUPS,
    description: `Group objects this user belongs to after flattening nested groups, sorted (empty unless Active); at most ${MAX_LISTED_GROUPS}, see groupCount.`,
  }),
  groupCount: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: `Set only when groups is capped: how many groups this user belongs to, of which groups lists the first ${MAX_LISTED_GROUPS}. A group missing from a capped list proves nothing.`,
    }),
  ),
  role: Type.Optional(
    Type.Union(ROLES.map((r) => Type.Literal(r)), {
      description: 'Set by an admin to override the role; never changed by the operator.',
    }),
  ),
  },
  { description: 'Written by the operator from the IdP, except role. What grants access is groups, and only while state is Active.' },
);
export type UserSpec = Static<typeof UserSpec>;

export const REVOCATION_REASONS = ['Suspended', 'Deleted', 'RemovedFromGroups'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** Signals a revocation owes before it is fully delivered: an Event, a metric increment, one per webhook. */
export const SIGNAL_EVENT = 'Event';
export const SIGNAL_METRIC = 'Metric';
export const webhookSignal = (webhook: string) => `Webhook/${webhook}`;

export const MAX_REVOCATION_RECORDS = 16;

export const RevocationRecord = Type.Object(
  {
    id: Type.String({ maxLength: 32, description: 'Stable id of this revocation; the Event name and CloudEvent id derive from it.' }),
    time: Timestamp('When access was removed (the same write that recorded this).'),
    reason: Type.Union(REVOCATION_REASONS.map((r) => Type.Literal(r)), { description: 'Suspended, Deleted, or RemovedFromGroups.' }),
    groups: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 5000, description: 'Group objects the person was removed from.' }),
    pending: Type.Array(Type.String({ maxLength: 300 }), {
      maxItems: 64,
      description: 'Signals not delivered yet: "Event", "Metric", "Webhook/<name>". Empty once every signal went out.',
    }),
  },
  { description: 'A removal of access, recorded in the same write that removed it.' },
);
export type RevocationRecord = Static<typeof RevocationRecord>;

export const UserStatus = Type.Object({
  role: Type.Optional(Role),
  roleSource: Type.Optional(Type.String({ description: 'Why this role: Default, Mapping (group name) or Override.' })),
  stateSince: Type.Optional(Timestamp('When the current state was first seen.')),
  revokedAt: Type.Optional(Timestamp('When access was last revoked (suspension, deletion or removal from all groups).')),
  deleteAfter: Type.Optional(Timestamp('Deleted users are removed after this time.')),
  missingSince: Type.Optional(
    Timestamp(
      'Set when a complete listing of the IdP did not include this person: nothing else changes until the next listing confirms it (still missing: Deleted; listed again: cleared). Never set for SCIM, where a DELETE is explicit.',
    ),
  ),
  revocations: Type.Optional(
    Type.Array(RevocationRecord, {
      maxItems: MAX_REVOCATION_RECORDS,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['id'],
      description: 'The most recent revocations, oldest first, with the signals each still owes.',
    } as any),
  ),
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
  statusSubresource: false,
  printerColumns: [
    { name: 'Login', type: 'string', jsonPath: '.spec.login' },
    { name: 'State', type: 'string', jsonPath: '.spec.state' },
    { name: 'Role', type: 'string', jsonPath: '.status.role' },
    { name: 'Directory', type: 'string', jsonPath: '.spec.directory' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    { name: 'Groups', type: 'string', jsonPath: '.spec.groups', priority: 1 },
  ],
};
