// The fixture rendered in Okta's JSON shapes.
import type { FixtureGroup, FixtureUser, FixtureUserState } from '../fixture.js';

const STATUS: Record<FixtureUserState, string> = {
  active: 'ACTIVE',
  suspended: 'SUSPENDED',
  locked: 'LOCKED_OUT',
  staged: 'STAGED',
  deleted: 'DEPROVISIONED',
};

const CREATED = '2024-01-15T09:30:00.000Z';
const UPDATED = '2025-06-01T12:00:00.000Z';

export function oktaStatus(user: FixtureUser): string {
  return STATUS[user.state ?? 'active'];
}

/** When the emulator saw an object change (see OktaEmulator.observe); the fixed UPDATED when it never did. */
export interface Stamps {
  lastUpdated?: string;
  lastMembershipUpdated?: string;
}

export function userJson(user: FixtureUser, base: string, stamps: Stamps = {}): Record<string, unknown> {
  const status = oktaStatus(user);
  const lastUpdated = stamps.lastUpdated ?? UPDATED;
  return {
    id: user.id,
    status,
    created: CREATED,
    activated: status === 'STAGED' ? null : CREATED,
    statusChanged: lastUpdated,
    lastLogin: null,
    lastUpdated,
    passwordChanged: CREATED,
    type: { id: 'oty1defaultusertype' },
    profile: {
      firstName: user.firstName ?? null,
      lastName: user.lastName ?? null,
      mobilePhone: null,
      secondEmail: null,
      login: user.login,
      email: user.email ?? user.login,
    },
    credentials: { password: {}, provider: { type: 'OKTA', name: 'OKTA' } },
    _links: { self: { href: `${base}/api/v1/users/${user.id}` } },
  };
}

export function groupJson(group: FixtureGroup, base: string, stamps: Stamps = {}): Record<string, unknown> {
  return {
    id: group.id,
    created: CREATED,
    lastUpdated: stamps.lastUpdated ?? UPDATED,
    lastMembershipUpdated: stamps.lastMembershipUpdated ?? UPDATED,
    objectClass: ['okta:user_group'],
    type: 'OKTA_GROUP',
    profile: { name: group.name, description: group.description ?? null },
    _links: {
      logo: [],
      users: { href: `${base}/api/v1/groups/${group.id}/users` },
      apps: { href: `${base}/api/v1/groups/${group.id}/apps` },
    },
  };
}

export function appUserJson(
  user: FixtureUser,
  appId: string,
  scope: 'USER' | 'GROUP',
  base: string,
  expandUser: boolean,
): Record<string, unknown> {
  return {
    id: user.id,
    externalId: null,
    created: CREATED,
    lastUpdated: UPDATED,
    scope,
    status: 'PROVISIONED',
    statusChanged: UPDATED,
    passwordChanged: null,
    syncState: 'DISABLED',
    credentials: { userName: user.login },
    profile: {},
    ...(expandUser ? { _embedded: { user: userJson(user, base) } } : {}),
    _links: {
      app: { href: `${base}/api/v1/apps/${appId}` },
      user: { href: `${base}/api/v1/users/${user.id}` },
    },
  };
}

export function appGroupJson(
  group: FixtureGroup,
  appId: string,
  priority: number,
  base: string,
  expandGroup: boolean,
): Record<string, unknown> {
  return {
    id: group.id,
    lastUpdated: UPDATED,
    priority,
    profile: {},
    ...(expandGroup ? { _embedded: { group: groupJson(group, base) } } : {}),
    _links: {
      app: { href: `${base}/api/v1/apps/${appId}` },
      group: { href: `${base}/api/v1/groups/${group.id}` },
    },
  };
}

export function oktaError(code: string, summary: string): Record<string, unknown> {
  return { errorCode: code, errorSummary: summary, errorLink: code, errorId: `oae${Math.random().toString(36).slice(2, 12)}`, errorCauses: [] };
}
