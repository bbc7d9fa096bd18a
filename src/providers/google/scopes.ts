// The read-only OAuth scopes the driver asks for, and the admin privilege each endpoint needs.
const PREFIX = 'https://www.googleapis.com/auth/';

export const SCOPES = {
  users: `${PREFIX}admin.directory.user.readonly`,
  groups: `${PREFIX}admin.directory.group.readonly`,
  members: `${PREFIX}admin.directory.group.member.readonly`,
  orgUnits: `${PREFIX}admin.directory.orgunit.readonly`,
} as const;

export type Resource = keyof typeof SCOPES;

/** What the impersonated admin's role must allow, in the Admin console's words. */
export const ADMIN_PRIVILEGES: Record<Resource, string> = {
  users: 'Admin API privileges › Users › Read',
  groups: 'Admin API privileges › Groups › Read',
  members: 'Admin API privileges › Groups › Read',
  orgUnits: 'Admin API privileges › Organizational Units › Read',
};

/** The scopes one fetch needs, in a stable order (the order the Admin console is told to authorise them). */
export function scopesFor(syncOrgUnits: boolean): string[] {
  const scopes: string[] = [SCOPES.users, SCOPES.groups, SCOPES.members];
  if (syncOrgUnits) scopes.push(SCOPES.orgUnits);
  return scopes;
}
