// One directory format that every IdP emulator can serve, so the same directory (the seed example,
// a generated 10k-user directory, a test's own) can be played by any provider.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export type FixtureUserState = 'active' | 'suspended' | 'deleted' | 'locked' | 'staged';

export interface FixtureUser {
  id: string;
  login: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  state?: FixtureUserState; // default active
  /** Id of the organisational unit the user sits in. */
  orgUnit?: string;
}

export interface FixtureGroup {
  id: string;
  name: string;
  description?: string;
  /** Direct user members (user ids). */
  members?: string[];
  /** Direct nested groups (group ids). Emulators of IdPs without nesting ignore them. */
  groups?: string[];
}

export interface FixtureOrgUnit {
  id: string;
  name: string;
  /** Parent OU id; absent for a top-level OU. */
  parent?: string;
}

export interface FixtureApp {
  id: string;
  /** Users assigned to the app directly. */
  users?: string[];
  /** Groups assigned to the app (their members are assigned through them). */
  groups?: string[];
}

export interface DirectoryFixture {
  users: FixtureUser[];
  groups: FixtureGroup[];
  orgUnits?: FixtureOrgUnit[];
  apps?: FixtureApp[];
}

export function loadFixture(path: string): DirectoryFixture {
  const data = parse(readFileSync(path, 'utf8')) as DirectoryFixture;
  return normaliseFixture(data);
}

export function normaliseFixture(data: DirectoryFixture): DirectoryFixture {
  return {
    users: (data.users ?? []).map((u) => ({ state: 'active', email: u.login, ...u })),
    groups: (data.groups ?? []).map((g) => ({ members: [], groups: [], ...g })),
    orgUnits: data.orgUnits ?? [],
    apps: data.apps ?? [],
  };
}

/** Deep copy, so a test can mutate its emulator's directory without touching a shared fixture. */
export function cloneFixture(f: DirectoryFixture): DirectoryFixture {
  return structuredClone(f);
}

/**
 * A generated directory of `users` people in `groups` groups: every user in 3 groups, and
 * one group in ten nested in another. Ids are stable for a given size.
 */
export function generateFixture(users: number, groups: number): DirectoryFixture {
  const fixture: DirectoryFixture = { users: [], groups: [], orgUnits: [], apps: [] };
  for (let g = 0; g < groups; g++) {
    fixture.groups.push({ id: `g${String(g).padStart(6, '0')}`, name: `group-${g}`, members: [], groups: [] });
  }
  for (let u = 0; u < users; u++) {
    const id = `u${String(u).padStart(7, '0')}`;
    fixture.users.push({ id, login: `user${u}@example.com`, firstName: 'User', lastName: String(u), state: 'active' });
    for (let k = 0; k < 3 && groups > 0; k++) fixture.groups[(u * 7 + k * 13) % groups].members!.push(id);
  }
  for (let g = 10; g < groups; g += 10) fixture.groups[g - 10].groups!.push(fixture.groups[g].id);
  return fixture;
}

/** generateFixture, plus `g-large`: a group of the first 50 users, for reads that page through a group. */
export function generateFixtureWithLargeGroup(users: number, groups: number): DirectoryFixture {
  const fixture = generateFixture(users, groups);
  fixture.groups.push({ id: 'g-large', name: 'large', members: fixture.users.slice(0, 50).map((u) => u.id), groups: [] });
  return fixture;
}

/**
 * The changes an emulator must show in its next read, made in place as tests make them: the first
 * member of `g-large` leaves it, the second is replaced by a new object with the same id and a new
 * login, and the third is removed from the directory.
 */
export function changeLargeGroupPeople(directory: DirectoryFixture): { large: FixtureGroup; leaving: string; replaced: string; removed: string } {
  const { users, groups } = directory;
  const large = groups.find((g) => g.id === 'g-large')!;
  const [leaving, replaced, removed] = large.members!;
  large.members = large.members!.filter((id) => id !== leaving);
  const at = users.findIndex((u) => u.id === replaced);
  users[at] = { ...users[at], login: 'renamed@example.com', email: 'renamed@example.com' };
  users.splice(users.findIndex((u) => u.id === removed), 1);
  return { large, leaving, replaced, removed };
}
