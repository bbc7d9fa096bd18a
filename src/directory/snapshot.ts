// The directory's model: what an IdP holds at one moment, as pull drivers read it and the SCIM
// server keeps it. decide() turns a snapshot into the objects the operator writes.

export type UserState = 'Active' | 'Suspended' | 'Deleted';

export interface DirectoryUser {
  /** Stable id assigned by the IdP. */
  id: string;
  /** Sign-in name (usually an email address). */
  login: string;
  email?: string;
  displayName?: string;
  state: UserState;
  /** The IdP's own word for the state (e.g. Okta "LOCKED_OUT"), for humans. */
  idpStatus?: string;
  /** Organisational unit id the user sits in directly, where the IdP has OUs. */
  orgUnitId?: string;
}

export type GroupKind = 'Group' | 'OrgUnit';

export interface DirectoryGroup {
  id: string;
  name: string;
  kind: GroupKind;
  description?: string;
  /** Users that are members directly (not through a nested group). */
  memberUserIds: string[];
  /** Groups that are members of this group (nesting): their members are ours too. */
  memberGroupIds: string[];
}

/**
 * A complete, immutable picture of one directory at one moment.
 * A driver returns a snapshot or throws; it never returns a partial one.
 */
export interface DirectorySnapshot {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
  /** HTTP requests made to the IdP to build this snapshot (token requests included). */
  apiCalls: number;
  /**
   * Opaque state a driver wants back on the next fetch (e.g. Entra delta links).
   * Stored by the operator in a Secret it owns; at most a few KiB.
   */
  cursor?: Record<string, string>;
}
