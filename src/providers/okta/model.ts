// Okta's JSON shapes (the parts we read) and their translation into the driver contract.
import { TransientError } from '../../errors.js';
import type { DirectoryGroup, DirectoryUser, UserState } from '../../directory/snapshot.js';

export interface OktaUser {
  id: string;
  status: string;
  profile: { login: string; email?: string; firstName?: string; lastName?: string; displayName?: string };
}

export interface OktaGroup {
  id: string;
  type?: string;
  profile: { name: string; description?: string | null };
}

const STATES: Record<string, UserState> = {
  ACTIVE: 'Active',
  LOCKED_OUT: 'Active',
  PASSWORD_EXPIRED: 'Active',
  RECOVERY: 'Active',
  SUSPENDED: 'Suspended',
  STAGED: 'Suspended',
  PROVISIONED: 'Suspended',
  DEPROVISIONED: 'Deleted',
};

/**
 * Okta's user status → our state. A locked-out or password-expired user is still an employee who
 * may sign in again after a reset, so keeps access; a status Okta adds later is treated as
 * Suspended until someone decides otherwise.
 */
export function userState(status: string): UserState {
  return STATES[status] ?? 'Suspended';
}

function isRecord(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(what: string): TransientError {
  return new TransientError('MalformedResponse', `Okta: ${what}`);
}

export function toUser(raw: unknown): DirectoryUser {
  if (!isRecord(raw) || typeof raw.id !== 'string' || typeof raw.status !== 'string' || !isRecord(raw.profile)) {
    throw malformed('a user in the list has no id, status or profile');
  }
  const profile = raw.profile as OktaUser['profile'];
  if (typeof profile.login !== 'string' || profile.login === '') throw malformed(`user ${raw.id} has no profile.login`);
  const fullName = [profile.firstName, profile.lastName].filter((part) => typeof part === 'string' && part !== '').join(' ');
  const displayName = nonEmpty(profile.displayName) ?? nonEmpty(fullName);
  return {
    id: raw.id,
    login: profile.login,
    ...(nonEmpty(profile.email) ? { email: profile.email } : {}),
    ...(displayName ? { displayName } : {}),
    state: userState(raw.status),
    idpStatus: raw.status,
  };
}

export function toGroup(raw: unknown, memberUserIds: string[]): DirectoryGroup {
  const group = requireGroup(raw);
  return {
    id: group.id,
    name: group.profile.name,
    kind: 'Group',
    ...(nonEmpty(group.profile.description) ? { description: group.profile.description! } : {}),
    memberUserIds,
    // Okta has no nested groups.
    memberGroupIds: [],
  };
}

export function requireGroup(raw: unknown): OktaGroup {
  if (!isRecord(raw) || typeof raw.id !== 'string' || !isRecord(raw.profile) || typeof raw.profile.name !== 'string') {
    throw malformed('a group in the list has no id or profile.name');
  }
  return raw as OktaGroup;
}

/** The user embedded in an app-assignment item (expand=user). */
export function embeddedUser(raw: unknown): unknown {
  if (!isRecord(raw) || !isRecord(raw._embedded) || !isRecord(raw._embedded.user)) {
    throw malformed('an app user has no _embedded.user (was expand=user ignored?)');
  }
  return raw._embedded.user;
}

/** The group embedded in an app group item (expand=group), or just its id when Okta left it out. */
export function appGroupRef(raw: unknown): { id: string; group?: unknown } {
  if (!isRecord(raw) || typeof raw.id !== 'string') throw malformed('an app group has no id');
  return { id: raw.id, group: isRecord(raw._embedded) ? raw._embedded.group : undefined };
}

export function userId(raw: unknown): string {
  if (!isRecord(raw) || typeof raw.id !== 'string') throw malformed('a group member has no id');
  return raw.id;
}

function nonEmpty(value: string | null | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}
