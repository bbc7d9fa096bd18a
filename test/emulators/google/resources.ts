// The fixture directory as Admin SDK Directory API resources, in Google's JSON shapes.
//
// Mapping choices (Google has no exact equivalent for some fixture states):
//   active, staged  → an ordinary account (staged: one that has never signed in)
//   suspended       → suspended: true, suspensionReason "ADMIN"
//   locked          → suspended: true, suspensionReason "ABUSE" (Google suspends accounts it locks)
//   deleted         → not listed anywhere (Google's users.list omits deleted users; groups drop them)
// Org units are laid out as paths of names ("/Engineering/Platform"); a user without an org unit
// sits in the root "/".
import { createHash } from 'node:crypto';
import { IdIndex } from '../cache.js';
import type { DirectoryFixture, FixtureGroup, FixtureUser } from '../fixture.js';

export const USER_DEFAULTS = {
  isAdmin: false,
  isDelegatedAdmin: false,
  agreedToTerms: true,
  changePasswordAtNextLogin: false,
  ipWhitelisted: false,
  includeInGlobalAddressList: true,
  isMailboxSetup: true,
  isEnrolledIn2Sv: false,
  isEnforcedIn2Sv: false,
};

export function etag(value: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 27)}"`;
}

export function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

export interface OrgUnitResource {
  kind: 'admin#directory#orgUnit';
  etag: string;
  name: string;
  description: string;
  orgUnitPath: string;
  orgUnitId: string;
  parentOrgUnitPath: string;
  parentOrgUnitId: string;
  blockInheritance: boolean;
}

/** Lookups by id kept from one request to the next (each request makes its own view). */
export interface ViewIndexes {
  users: IdIndex<FixtureUser>;
  groups: IdIndex<FixtureGroup>;
}

/** A member as a page of members lists it, made into a resource only when a page shows it. */
interface MemberEntry {
  id: string;
  email: string;
  type: 'USER' | 'GROUP';
  status: 'ACTIVE' | 'SUSPENDED';
}

export class GoogleDirectoryView {
  constructor(
    private readonly fixture: DirectoryFixture,
    private readonly customerId: string,
    private readonly primaryDomain: string,
    /** Users to show as archived (the fixture has no such state). */
    private readonly archived: ReadonlySet<string>,
    private readonly indexes: ViewIndexes = { users: new IdIndex(), groups: new IdIndex() },
  ) {}

  get rootOrgUnitId(): string {
    return `id:root${this.customerId.toLowerCase()}`;
  }

  liveUsers(): FixtureUser[] {
    return this.fixture.users.filter((u) => u.state !== 'deleted');
  }

  userResource(user: FixtureUser): Record<string, unknown> {
    const given = user.firstName ?? user.login.split('@')[0];
    const family = user.lastName ?? '';
    const suspended = user.state === 'suspended' || user.state === 'locked';
    const body: Record<string, unknown> = {
      kind: 'admin#directory#user',
      id: user.id,
      primaryEmail: user.login,
      name: { givenName: given, familyName: family, fullName: `${given} ${family}`.trim() },
      ...USER_DEFAULTS,
      lastLoginTime: user.state === 'staged' ? '1970-01-01T00:00:00.000Z' : '2026-01-05T09:30:00.000Z',
      creationTime: '2024-03-01T12:00:00.000Z',
      emails: [{ address: user.login, primary: true }],
      customerId: this.customerId,
      orgUnitPath: user.orgUnit ? this.orgUnitPath(user.orgUnit) : '/',
      suspended,
      archived: this.archived.has(user.id),
    };
    if (suspended) body.suspensionReason = user.state === 'locked' ? 'ABUSE' : 'ADMIN';
    body.etag = etag(body);
    return body;
  }

  groupEmail(group: FixtureGroup): string {
    const local = group.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || group.id;
    return `${local}@${this.primaryDomain}`;
  }

  findGroup(key: string): FixtureGroup | undefined {
    const lower = key.toLowerCase();
    return this.indexes.groups.find(this.fixture.groups, key) ?? this.fixture.groups.find((g) => this.groupEmail(g) === lower);
  }

  groupResource(group: FixtureGroup): Record<string, unknown> {
    const body = {
      kind: 'admin#directory#group',
      id: group.id,
      email: this.groupEmail(group),
      name: group.name,
      directMembersCount: String(this.members(group).length),
      description: group.description ?? '',
      adminCreated: true,
      nonEditableAliases: [],
    };
    return { ...body, etag: etag(body) };
  }

  members(group: FixtureGroup): MemberEntry[] {
    const findUser = this.userFinder();
    const members: MemberEntry[] = [];
    for (const id of group.members ?? []) {
      const user = findUser(id);
      if (!user || user.state === 'deleted') continue;
      const suspended = user.state === 'suspended' || user.state === 'locked';
      members.push({ id, email: user.login, type: 'USER', status: suspended ? 'SUSPENDED' : 'ACTIVE' });
    }
    for (const id of group.groups ?? []) {
      const nested = this.indexes.groups.find(this.fixture.groups, id);
      if (nested) members.push({ id, email: this.groupEmail(nested), type: 'GROUP', status: 'ACTIVE' });
    }
    return members;
  }

  memberResource(entry: MemberEntry): Record<string, unknown> {
    return this.member(entry.id, entry.email, entry.type, entry.status);
  }

  /** Users by id; with an id held twice, the last user holding it, as a map of every user would say. */
  private userFinder(): (id: string) => FixtureUser | undefined {
    const users = this.fixture.users;
    if (!this.indexes.users.duplicatesIn(users)) return (id) => this.indexes.users.find(users, id);
    const byId = new Map(users.map((u) => [u.id, u]));
    return (id) => byId.get(id);
  }

  private member(id: string, email: string, type: string, status: string): Record<string, unknown> {
    const body = { kind: 'admin#directory#member', id, email, role: 'MEMBER', type, status };
    return { ...body, etag: etag(body) };
  }

  orgUnitPath(id: string, seen = new Set<string>()): string {
    const unit = this.fixture.orgUnits?.find((u) => u.id === id);
    if (!unit || seen.has(id)) return '/';
    seen.add(id);
    const parent = unit.parent ? this.orgUnitPath(unit.parent, seen) : '/';
    return `${parent === '/' ? '' : parent}/${unit.name}`;
  }

  orgUnitResources(): OrgUnitResource[] {
    return (this.fixture.orgUnits ?? []).map((unit) => {
      const path = this.orgUnitPath(unit.id);
      const parentPath = unit.parent ? this.orgUnitPath(unit.parent) : '/';
      const body = {
        kind: 'admin#directory#orgUnit' as const,
        name: unit.name,
        description: '',
        orgUnitPath: path,
        orgUnitId: `id:${unit.id}`,
        parentOrgUnitPath: parentPath,
        parentOrgUnitId: unit.parent ? `id:${unit.parent}` : this.rootOrgUnitId,
        blockInheritance: false,
      };
      return { ...body, etag: etag(body) };
    });
  }
}
