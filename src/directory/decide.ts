// The pure heart of a sync: from the DirectorySync, a complete IdP snapshot, the objects that exist now
// and the time, decide which Users and Groups to write, which to delete, which deletions the guard holds
// back, which events to emit and what the counts are. No I/O here; the apply step writes the result.
import type { DirectorySnapshot, DirectoryGroup, DirectoryUser } from './snapshot.js';
import {
  ANNOTATIONS,
  LABELS,
  MAX_LISTED_GROUPS,
  MAX_LISTED_MEMBERS,
  MAX_LISTED_NESTING,
  type DirectorySyncSpec,
  type DirectorySyncStatus,
  type Group,
  type GroupSpec,
  type Policy,
  type User,
  type UserSpec,
  type UserStatus,
  type RevocationReason,
  type RevocationRecord,
  MAX_REVOCATION_RECORDS,
  SIGNAL_EVENT,
  SIGNAL_METRIC,
  webhookSignal,
} from '../api/v1alpha1/index.js';
import { sanitizeSnapshot, type RefusedRecord } from './sanitize.js';
import { REVOCATION_NOTIFICATION_TYPE } from './signals.js';
import { flattenGroupsIndexed, type IndexedFlatGroup } from './flatten.js';
import { globToRegExp, idHash, objectName, shortHash } from './naming.js';
import { parseDuration } from '../util/duration.js';
import { sameJson, sameJsonIgnoring } from './json.js';
import { PersonGroups } from './person-groups.js';
import { sortByKey } from '../util/string-order.js';
import { declaredPolicies, type PolicyPlan } from './policies.js';

export { sameJson };

export interface DirectoryRef {
  name: string;
  namespace: string;
  annotations: Record<string, string>;
  spec: DirectorySyncSpec;
}

export interface DecideInput {
  directory: DirectoryRef;
  snapshot: DirectorySnapshot;
  existingUsers: readonly User[];
  existingGroups: readonly Group[];
  /** Policies written from this directory's spec.policies. */
  existingPolicies?: readonly Policy[];
  now: Date;
}

export type OperatorUserSpec = Omit<UserSpec, 'role'>;

/** A User to write: spec and status go in one request, so a revocation record lands with the access it removes. */
export interface UserWrite {
  name: string;
  spec: OperatorUserSpec;
  status: UserStatus;
  /** This write removes access (groups lost, or no longer Active); the apply step writes these first. */
  revokes: boolean;
}

export interface GroupWrite {
  name: string;
  spec: GroupSpec;
  /** Labels beyond those every directory object carries (directory, IdP id, managed-by). */
  labels: Record<string, string>;
  /** Annotations the operator sets (only the missing-since marker); absent ones are removed. */
  annotations?: Record<string, string>;
}

export interface Deletion {
  kind: 'User' | 'Group';
  name: string;
  idpId: string;
  displayName: string;
  reason: 'DeletedInIdp' | 'FilteredOut' | 'RetentionExpired';
}

export interface PlannedEvent {
  kind: 'DirectorySync' | 'User' | 'Group';
  /** Object name; for the DirectorySync, its own name. */
  name: string;
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
}

export interface Revocation {
  user: string;
  login: string;
  reason: RevocationReason;
  groups: string[];
  /** The record written on the User, from which its Event, metric and webhooks are derived. */
  record: RevocationRecord;
}

export type HeldDeletions = NonNullable<DirectorySyncStatus['heldDeletions']>;
export type Counts = NonNullable<DirectorySyncStatus['counts']>;

export interface Plan {
  users: UserWrite[];
  groups: GroupWrite[];
  deletions: Deletion[];
  held?: HeldDeletions;
  events: PlannedEvent[];
  revocations: Revocation[];
  policies: PolicyPlan;
  counts: Counts;
  /** IdP records that could not be stored; their existing objects, if any, are left as they are. */
  refused: RefusedRecord[];
  /**
   * Users and Groups (object names) this listing did not include for the first time: marked, otherwise
   * left as they were, and deleted only if the next listing confirms they are gone. A sync soon is due.
   */
  unconfirmed: { users: string[]; groups: string[] };
}

export const DEFAULT_DELETION = {
  userRetention: '720h',
  maxDeletionPercent: 25,
  guardMinimum: 10,
  policy: 'Delete' as 'Delete' | 'Orphan',
};

export function decide(input: DecideInput): Plan {
  const { directory, now } = input;
  const { snapshot, refused, userAt: positionOfUser, groupAt: listedGroupIds } = sanitizeSnapshot(input.snapshot);
  const refusedUsers = new Set(refused.filter((r) => r.kind === 'User').map((r) => r.idpId));
  const refusedGroups = new Set(refused.filter((r) => r.kind === 'Group').map((r) => r.idpId));
  const signals = signalsOwed(directory.spec);
  const stillOwed = signalStillOwed(directory.spec);
  const spec = directory.spec;
  const deletion = { ...DEFAULT_DELETION, ...spec.deletion };
  const nowIso = now.toISOString();
  // Active people, numbered in login order: flattening works on these numbers, and a group's first
  // logins are its smallest numbers.
  const rankAt = activePositionsByLogin(snapshot.users);
  const activeByLogin = new Array<DirectoryUser>(rankAt.reduce((n, rank) => (rank >= 0 ? n + 1 : n), 0));
  const logins = new Array<string>(activeByLogin.length);
  for (let position = 0; position < rankAt.length; position++) {
    const rank = rankAt[position];
    if (rank < 0) continue;
    const u = snapshot.users[position];
    activeByLogin[rank] = u;
    logins[rank] = u.login;
  }

  // No IdP gives a consistent snapshot: a page read after the directory changed can skip people and
  // groups that still exist. So an object missing from a listing is only marked; it is deleted when the
  // next listing misses it too. A SCIM directory is not a listing: there a deletion is a DELETE the IdP
  // sent, and it applies at once.
  const confirmByListing = spec.provider.type !== 'scim';
  const listed = snapshot.groups.filter((g) => spec.syncOrgUnits || g.kind !== 'OrgUnit');
  const inFilter = groupFilter(spec);
  const wanted = (g: DirectoryGroup) => (spec.syncOrgUnits || g.kind !== 'OrgUnit') && inFilter(g);
  // A group missing from this listing for the first time stands in with the members it had, so that
  // it, and every group it is nested in, grants what it granted until the next listing confirms it gone.
  const missing = confirmByListing
    ? input.existingGroups.filter(
        (g) => !listedGroupIds.has(g.spec.idpId) && !refusedGroups.has(g.spec.idpId) && g.metadata.annotations?.[ANNOTATIONS.missingSince] === undefined,
      )
    : [];
  const standIns = standInGroups(missing, input.existingUsers).filter(wanted);
  const standInIds = new Set(standIns.map((g) => g.id));
  const groups = [...listed, ...standIns];
  const flatAt = flattenGroupsIndexed(groups, { positionOf: positionOfUser, numberAt: rankAt }, activeByLogin.length);
  // The synced groups by number, and what each number has: its flattening, its stored Group, its name.
  const synced: DirectoryGroup[] = [];
  const flat: IndexedFlatGroup[] = [];
  for (let i = 0; i < groups.length; i++) {
    if (!inFilter(groups[i])) continue;
    synced.push(groups[i]);
    flat.push(flatAt[i]);
  }
  const syncedIds = new Set(synced.map((g) => g.id));

  const existingGroupByIdp = new Map(input.existingGroups.map((g) => [g.spec.idpId, g]));
  const stored = matchStoredUsers(positionOfUser, snapshot.users.length, input.existingUsers);
  const storedGroup = synced.map((g) => existingGroupByIdp.get(g.id));
  const syncedNames = synced.map((g, i) => storedGroup[i]?.metadata.name ?? objectName(directory.name, g.name, g.id));
  const groupName = new Map(synced.map((g, i) => [g.id, syncedNames[i]]));

  // Which synced groups each active user is in, after flattening. Visiting the groups in name order
  // builds every person's list already sorted; reading the people back in login order gives each group's
  // first logins.
  const inNameOrder = synced.map((_, i) => i).sort((x, y) => compareStrings(syncedNames[x], syncedNames[y]));
  const groupsByRank = PersonGroups.of(
    inNameOrder.map((i) => ({ name: syncedNames[i], members: flat[i].members })),
    activeByLogin.length,
  );
  const firstMembers = groupsByRank.firstMembers(MAX_LISTED_MEMBERS);
  const firstMembersOf = new Array<Int32Array>(synced.length);
  inNameOrder.forEach((i, number) => (firstMembersOf[i] = firstMembers[number]));

  const plan: Plan = {
    users: [],
    groups: [],
    deletions: [],
    events: [],
    revocations: [],
    policies: { writes: [], deletions: [], total: 0 },
    counts: emptyCounts(),
    refused,
    unconfirmed: { users: [], groups: [] },
  };
  if (refused.length) plan.events.push(refusedEvent(directory.name, refused));

  // Groups.
  for (let i = 0; i < synced.length; i++) {
    const g = synced[i];
    if (standInIds.has(g.id)) {
      const existing = storedGroup[i]!;
      plan.groups.push(markedGroup(existing, nowIso));
      plan.unconfirmed.groups.push(existing.metadata.name!);
      continue;
    }
    const f = flat[i];
    const parents = namesOf(f.parents, groupName);
    const children = namesOf(f.children, groupName);
    const memberRanks = firstMembersOf[i];
    const existing = storedGroup[i];
    const nameHash = idHash(g.name);
    const labelled = existing?.metadata.labels?.[LABELS.idpNameHash] === nameHash;
    const marked = existing?.metadata.annotations?.[ANNOTATIONS.missingSince] !== undefined;
    if (existing && labelled && !marked && unchangedGroupSpec(existing.spec, directory.name, g, f, memberRanks, logins, parents, children)) continue;
    const desired = groupSpec(directory.name, g, f, loginsOf(memberRanks, logins), parents, children);
    const labels = { [LABELS.idpNameHash]: nameHash };
    if (!existing || !labelled || marked || !sameJson(existing.spec, desired)) plan.groups.push({ name: syncedNames[i], spec: desired, labels });
  }
  const goneGroups: Deletion[] = input.existingGroups
    .filter((g) => !syncedIds.has(g.spec.idpId) && !refusedGroups.has(g.spec.idpId))
    .map((g) => ({
      kind: 'Group',
      name: g.metadata.name!,
      idpId: g.spec.idpId,
      displayName: g.spec.displayName,
      reason: listedGroupIds.has(g.spec.idpId) || !wanted(standInGroup(g, [])) ? 'FilteredOut' : 'DeletedInIdp',
    }));

  // Users. Those the listing missed come first: the guard's decision depends on them.
  const roleOf = roleResolver(spec, synced, flat, activeByLogin);
  const newlyDeleted: { user: User; write: UserWrite }[] = [];
  for (let i = 0; i < input.existingUsers.length; i++) {
    const existing = input.existingUsers[i];
    if (stored.isListed(i) || refusedUsers.has(existing.spec.idpId)) continue;
    if (existing.spec.state === 'Deleted') {
      const deleteAfter = existing.status?.deleteAfter;
      if (deleteAfter && Date.parse(deleteAfter) <= now.getTime()) {
        plan.deletions.push({ kind: 'User', name: existing.metadata.name!, idpId: existing.spec.idpId, displayName: existing.spec.login, reason: 'RetentionExpired' });
      }
      continue;
    }
    if (confirmByListing && existing.status?.missingSince === undefined) {
      pushIfChanged(plan, existing, markedUser(existing, nowIso, stillOwed));
      plan.unconfirmed.users.push(existing.metadata.name!);
      continue;
    }
    const gone: DirectoryUser = { id: existing.spec.idpId, login: existing.spec.login, email: existing.spec.email, displayName: existing.spec.displayName, state: 'Deleted', idpStatus: 'NotFound' };
    const write = userWrite(existing.metadata.name!, directory.name, gone, [], existing, roleOf, nowIso, deletion.userRetention, stillOwed);
    newlyDeleted.push({ user: existing, write });
  }

  // The mass-deletion guard: vanished users and groups are held back when too many go at once.
  // Not for SCIM: there every deletion is a DELETE the IdP sent on purpose, not a partial read.
  const guarded = spec.provider.type !== 'scim';
  const liveUsers = input.existingUsers.filter((u) => u.spec.state !== 'Deleted').length;
  const holdUsers = guarded && exceedsGuard(newlyDeleted.length, liveUsers, deletion);
  const holdGroups = guarded && exceedsGuard(goneGroups.length, input.existingGroups.length, deletion);
  const heldNames = [...(holdUsers ? newlyDeleted.map((d) => d.user.metadata.name!) : []), ...(holdGroups ? goneGroups.map((g) => g.name) : [])].sort();
  const token = heldNames.length ? shortHash(...heldNames) : '';
  const approved = token !== '' && directory.annotations[ANNOTATIONS.approveDeletions] === token;
  // A held group still grants what it granted: its members keep it until the deletion is approved.
  const heldGroups = new Set(holdGroups && !approved ? goneGroups.map((g) => g.name) : []);

  const groupCountAt = new Int32Array(snapshot.users.length);
  for (let position = 0; position < snapshot.users.length; position++) {
    const u = snapshot.users[position];
    const existing = stored.userAt[position];
    // Only the active have a rank, and only they are in groups.
    const rank = rankAt[position];
    if (existing && heldGroups.size === 0 && unchangedUser(existing, u, directory.name, groupsByRank, rank, roleOf(u, existing), stillOwed)) {
      groupCountAt[position] = groupsByRank.count(rank);
      continue;
    }
    const groupsNow = u.state === 'Active' ? withHeldGroups(groupsByRank.names(rank), existing, heldGroups) : [];
    groupCountAt[position] = groupsNow.length;
    const write = userWrite(existing?.metadata.name ?? objectName(directory.name, u.login, u.id), directory.name, u, groupsNow, existing, roleOf, nowIso, deletion.userRetention, stillOwed);
    trackUserTransition(plan, existing, write, u.login, directory.name, signals, nowIso);
    pushIfChanged(plan, existing, write);
  }

  if (heldNames.length && !approved) {
    plan.held = {
      users: holdUsers ? newlyDeleted.length : 0,
      groups: holdGroups ? goneGroups.length : 0,
      token,
      sample: heldNames.slice(0, 20),
    };
    plan.events.push({
      kind: 'DirectorySync',
      name: directory.name,
      type: 'Warning',
      reason: 'DeletionsHeld',
      note: `Held back ${heldMessage(plan.held)}; approve with: kubectl annotate directorysync ${directory.name} ${ANNOTATIONS.approveDeletions}=${token} --overwrite`,
    });
  }
  if (!holdUsers || approved) {
    for (const { user, write } of newlyDeleted) {
      trackUserTransition(plan, user, write, user.spec.login, directory.name, signals, nowIso);
      pushIfChanged(plan, user, write);
    }
  }
  if (!holdGroups || approved) {
    for (const g of goneGroups) {
      plan.deletions.push(g);
      plan.events.push({
        kind: 'DirectorySync',
        name: directory.name,
        type: 'Normal',
        reason: g.reason === 'DeletedInIdp' ? 'GroupDeleted' : 'GroupFilteredOut',
        note: `Group ${g.displayName} (${g.name}) ${g.reason === 'DeletedInIdp' ? 'was deleted in the IdP' : 'no longer matches spec.groups'}: deleted, with the Policies that granted access through it`,
      });
    }
  }

  if (plan.unconfirmed.users.length || plan.unconfirmed.groups.length) plan.events.push(unconfirmedEvent(directory.name, plan.unconfirmed));

  plan.policies = declaredPolicies({
    directory: directory.name,
    rules: spec.policies ?? [],
    groups: synced.map((g, i) => ({ group: g, name: syncedNames[i], uid: storedGroup[i]?.metadata.uid })),
    leavingGroups: new Set(goneGroups.map((g) => g.name)),
    existing: input.existingPolicies ?? [],
  });
  plan.counts = countObjects({ ...input, snapshot }, stored.isListed, plan, synced.length, (position) => groupCountAt[position], holdUsers && !approved);
  return plan;
}

/**
 * The stored User of each listed person (by position; as with a Map from IdP id, the last one stored with
 * an id), and whether the listing names each stored User (by index; two stored Users with one IdP id are
 * both listed when the id is), found with one lookup per stored User in the listing's own index.
 */
function matchStoredUsers(positionOf: ReadonlyMap<string, number>, users: number, stored: readonly User[]): { userAt: (User | undefined)[]; isListed: (storedIndex: number) => boolean } {
  const userAt = new Array<User | undefined>(users);
  const listed = new Uint8Array(stored.length);
  for (let i = 0; i < stored.length; i++) {
    const position = positionOf.get(stored[i].spec.idpId);
    if (position === undefined) continue;
    userAt[position] = stored[i];
    listed[i] = 1;
  }
  return { userAt, isListed: (i) => listed[i] === 1 };
}

/** A person missing from this listing for the first time: only the marker changes. */
function markedUser(existing: User, nowIso: string, stillOwed: (signal: string) => boolean): UserWrite {
  const before = existing.status ?? {};
  const records = before.revocations?.map((r) => ({ ...r, pending: r.pending.filter(stillOwed) }));
  const status: UserStatus = { ...before, missingSince: nowIso, ...(records ? { revocations: records } : {}) };
  return { name: existing.metadata.name!, spec: pickUserSpec(existing.spec), status, revokes: false };
}

/** A group missing from this listing for the first time: the same Group, with the marker. */
function markedGroup(existing: Group, nowIso: string): GroupWrite {
  return {
    name: existing.metadata.name!,
    spec: existing.spec,
    labels: { [LABELS.idpNameHash]: existing.metadata.labels?.[LABELS.idpNameHash] ?? idHash(existing.spec.displayName) },
    annotations: { [ANNOTATIONS.missingSince]: nowIso },
  };
}

/** The groups a listed person is in, plus those of their groups whose deletion the guard holds back. */
function withHeldGroups(listed: string[], existing: User | undefined, held: ReadonlySet<string>): string[] {
  if (held.size === 0 || !existing) return listed;
  const extra = existing.spec.groups.filter((g) => held.has(g) && !listed.includes(g));
  return extra.length ? [...listed, ...extra].sort(compareStrings) : listed;
}

/**
 * Groups missing from the listing as the directory last saw them: members are the active people whose
 * User lists the group (already flattened, so no nesting below it is needed), and groups that still
 * list it as nested take those members on as before.
 */
function standInGroups(missing: readonly Group[], users: readonly User[]): DirectoryGroup[] {
  if (missing.length === 0) return [];
  const members = new Map(missing.map((g) => [g.metadata.name!, [] as string[]]));
  for (const u of users) {
    if (u.spec.state !== 'Active') continue;
    for (const name of u.spec.groups) members.get(name)?.push(u.spec.idpId);
  }
  return missing.map((g) => standInGroup(g, members.get(g.metadata.name!)!));
}

function standInGroup(g: Group, memberUserIds: string[]): DirectoryGroup {
  return { id: g.spec.idpId, name: g.spec.displayName, kind: g.spec.kind, memberUserIds, memberGroupIds: [] };
}

function unconfirmedEvent(directory: string, unconfirmed: Plan['unconfirmed']): PlannedEvent {
  const sample = [...unconfirmed.users, ...unconfirmed.groups].slice(0, 5).join(', ');
  return {
    kind: 'DirectorySync',
    name: directory,
    type: 'Normal',
    reason: 'MissingFromListing',
    note: `${unconfirmed.users.length} user(s) and ${unconfirmed.groups.length} group(s) were missing from this listing (${sample}${unconfirmed.users.length + unconfirmed.groups.length > 5 ? ', …' : ''}): left as they were; deleted only if the next listing misses them too`,
  };
}

function userWrite(
  name: string,
  directory: string,
  u: DirectoryUser,
  groups: string[],
  existing: User | undefined,
  roleOf: RoleOf,
  nowIso: string,
  retention: string,
  stillOwed: (signal: string) => boolean,
): UserWrite {
  // Built key by key, in the order the object literal with conditional spreads would have: no
  // throw-away objects for a hundred thousand people, and the same JSON.
  const spec = { directory, idpId: u.id, login: u.login } as OperatorUserSpec;
  if (u.email) spec.email = u.email;
  if (u.displayName) spec.displayName = u.displayName;
  spec.state = u.state;
  if (u.idpStatus) spec.idpStatus = u.idpStatus;
  if (groups.length > MAX_LISTED_GROUPS) {
    spec.groups = groups.slice(0, MAX_LISTED_GROUPS);
    spec.groupCount = groups.length;
  } else {
    spec.groups = groups;
  }
  const before = existing?.status ?? {};
  const stateChanged = !existing || existing.spec.state !== u.state;
  const { role, source } = roleOf(u, existing);
  const status: UserStatus = { role, roleSource: source, stateSince: stateChanged ? nowIso : (before.stateSince ?? nowIso) };
  if (before.revokedAt) status.revokedAt = before.revokedAt;
  if (u.state === 'Deleted') {
    status.deleteAfter = stateChanged || !before.deleteAfter ? new Date(Date.parse(nowIso) + parseDuration(retention)).toISOString() : before.deleteAfter;
  }
  const records = before.revocations?.map((r) => ({ ...r, pending: r.pending.filter(stillOwed) }));
  return { name, spec, status: records?.length ? { ...status, revocations: records } : status, revokes: false };
}

/**
 * True when what userWrite() would build for this listed person changes nothing and trackUserTransition()
 * would record nothing: the same state, the same groups, and spec and status just as stored. Checks field
 * by field, without building the write, since in a resync nearly everyone is unchanged. Anything unusual
 * answers false, and the full comparison decides.
 */
function unchangedUser(existing: User, u: DirectoryUser, directory: string, groups: PersonGroups, rank: number, role: RoleChoice, stillOwed: (signal: string) => boolean): boolean {
  const spec = existing.spec;
  if (u.state === 'Deleted' || spec.state !== u.state || spec.directory !== directory || spec.idpId !== u.id || spec.login !== u.login) return false;
  if (!sameOptional(spec.email, u.email) || !sameOptional(spec.displayName, u.displayName) || !sameOptional(spec.idpStatus, u.idpStatus)) return false;
  const count = groups.count(rank);
  const capped = count > MAX_LISTED_GROUPS;
  if (spec.groupCount !== (capped ? count : undefined) || !Array.isArray(spec.groups) || !groups.listsFirst(rank, spec.groups, MAX_LISTED_GROUPS)) return false;
  // directory, idpId, login, state and groups, the optional fields that are set, and role, which the write leaves out.
  const keys = 5 + Number(!!u.email) + Number(!!u.displayName) + Number(!!u.idpStatus) + Number(capped) + Number(spec.role !== undefined);
  return keyCount(spec) === keys && unchangedStatus(existing.status, role, stillOwed);
}

/** An optional field the write sets only when the IdP's value is not empty. */
function sameOptional(stored: string | undefined, listed: string | undefined): boolean {
  return listed ? stored === listed : stored === undefined;
}

/** The status a write for an unchanged person would carry is the one stored (see userWrite). */
function unchangedStatus(status: UserStatus | undefined, role: RoleChoice, stillOwed: (signal: string) => boolean): boolean {
  if (!status || status.role !== role.role || status.roleSource !== role.source) return false;
  if (status.stateSince === undefined || status.stateSince === null || status.deleteAfter !== undefined || status.missingSince !== undefined) return false;
  let keys = 3;
  if (status.revokedAt !== undefined) {
    if (!status.revokedAt) return false;
    keys++;
  }
  if (status.revocations !== undefined) {
    if (!allStillOwed(status.revocations, stillOwed)) return false;
    keys++;
  }
  return keyCount(status) === keys;
}

/** Records that a write would keep as they are: every signal they owe is still owed. */
function allStillOwed(records: readonly RevocationRecord[], stillOwed: (signal: string) => boolean): boolean {
  if (!Array.isArray(records) || records.length === 0) return false;
  for (let r = 0; r < records.length; r++) {
    const record: unknown = records[r];
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return false;
    const pending = (record as RevocationRecord).pending;
    if (!Array.isArray(pending)) return false;
    for (let i = 0; i < pending.length; i++) if (!stillOwed(pending[i])) return false;
  }
  return true;
}

/** Groups in `before` and not in `after`; linear, since a person may be in thousands. */
function lostGroups(before: readonly string[], after: readonly string[]): string[] {
  if (before.length === 0 || (before.length === after.length && before.every((g, i) => g === after[i]))) return [];
  const kept = new Set(after);
  return before.filter((g) => !kept.has(g));
}

function pushIfChanged(plan: Plan, existing: User | undefined, write: UserWrite): void {
  if (!existing || !sameJsonIgnoring(existing.spec, write.spec, 'role') || !sameJson(existing.status ?? {}, write.status)) plan.users.push(write);
}

/**
 * A removal of access (suspension, deletion, lost groups) is recorded in the write that removes it. Its
 * Event, metric and webhooks are not planned here: they are derived from the record once it is stored,
 * and struck from its `pending` list as each goes out, so no failure between the two can lose them.
 */
function trackUserTransition(plan: Plan, existing: User | undefined, write: UserWrite, login: string, directory: string, signals: SignalsOwed, nowIso: string): void {
  // A new User has no access to lose and none to get back.
  if (!existing) return;
  const to = write.spec.state;
  const from = existing.spec.state;
  const lost = lostGroups(existing.spec.groups ?? [], write.spec.groups);
  let reason: RevocationReason | undefined;
  if (from !== to && to !== 'Active') reason = to === 'Deleted' ? 'Deleted' : 'Suspended';
  else if (from !== 'Active' && to === 'Active') {
    plan.events.push({ kind: 'User', name: write.name, type: 'Normal', reason: 'UserRestored', note: `${login} is active again in the IdP (directory ${directory})` });
  } else if (lost.length) reason = 'RemovedFromGroups';
  if (!reason) return;
  const time = nowIso;
  const record: RevocationRecord = { id: shortHash(write.name, time, reason), time, reason, groups: lost, pending: signals(reason) };
  write.status = { ...write.status, revokedAt: time, revocations: keepRecent([...(write.status.revocations ?? []).filter((r) => r.id !== record.id), record]) };
  write.revokes = true;
  plan.revocations.push({ user: write.name, login, reason, groups: lost, record });
}

export type SignalsOwed = (reason: RevocationReason) => string[];

/** Which signals a new revocation owes: always an Event and a metric, plus each webhook that takes its type. */
export function signalsOwed(spec: DirectorySyncSpec): SignalsOwed {
  const webhooks = spec.notifications?.webhooks ?? [];
  return (reason) => [
    SIGNAL_EVENT,
    SIGNAL_METRIC,
    ...webhooks.filter((w) => !w.types?.length || w.types.includes(REVOCATION_NOTIFICATION_TYPE[reason])).map((w) => webhookSignal(w.name)),
  ];
}

/** A signal of an earlier revocation is still owed unless it was for a webhook that has since been removed. */
function signalStillOwed(spec: DirectorySyncSpec): (signal: string) => boolean {
  const webhooks = new Set((spec.notifications?.webhooks ?? []).map((w) => webhookSignal(w.name)));
  return (signal) => signal === SIGNAL_EVENT || signal === SIGNAL_METRIC || webhooks.has(signal);
}

/** At most MAX_REVOCATION_RECORDS, dropping the oldest fully delivered records first. */
function keepRecent(records: RevocationRecord[]): RevocationRecord[] {
  const out = [...records];
  while (out.length > MAX_REVOCATION_RECORDS) {
    const delivered = out.findIndex((r) => r.pending.length === 0);
    out.splice(delivered >= 0 ? delivered : 0, 1);
  }
  return out;
}

function refusedEvent(directory: string, refused: RefusedRecord[]): PlannedEvent {
  const sample = refused.slice(0, 5).map((r) => `${r.kind} ${r.idpId}: ${r.reason}`).join('; ');
  return {
    kind: 'DirectorySync',
    name: directory,
    type: 'Warning',
    reason: 'RecordsRefused',
    note: `Refused ${refused.length} IdP record(s), left as they were: ${sample}${refused.length > 5 ? '; …' : ''}`,
  };
}

interface RoleChoice {
  role: 'User' | 'Admin';
  source: string;
}

type RoleOf = (u: DirectoryUser, existing?: User) => RoleChoice;

const DEFAULT_ROLE: RoleChoice = { role: 'User', source: 'Default' };

/** Chooses each person's role. The choices it returns are shared between people: read, never change them. */
/** `flat[i]` is the flattening of `groups[i]`. */
function roleResolver(spec: DirectorySyncSpec, groups: readonly DirectoryGroup[], flat: readonly IndexedFlatGroup[], activeByLogin: readonly DirectoryUser[]): RoleOf {
  const admins = new Map<string, RoleChoice>();
  for (const mapping of spec.roleMappings ?? []) {
    if (mapping.role !== 'Admin') continue;
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (g.name !== mapping.group && g.id !== mapping.group) continue;
      const choice: RoleChoice = { role: 'Admin', source: `Mapping (${g.name})` };
      for (const rank of flat[i].members) {
        const userId = activeByLogin[rank].id;
        if (!admins.has(userId)) admins.set(userId, choice);
      }
    }
  }
  return (u, existing) => (existing?.spec.role ? { role: existing.spec.role, source: 'Override' } : (admins.get(u.id) ?? DEFAULT_ROLE));
}

function groupFilter(spec: DirectorySyncSpec): (g: DirectoryGroup) => boolean {
  const include = spec.groups?.include?.map(globToRegExp);
  const exclude = (spec.groups?.exclude ?? []).map(globToRegExp);
  const ids = new Set(spec.groups?.ids ?? []);
  const restricted = (include && include.length > 0) || ids.size > 0;
  return (g) => {
    if (exclude.some((re) => re.test(g.name))) return false;
    if (!restricted) return true;
    return ids.has(g.id) || (include ?? []).some((re) => re.test(g.name));
  };
}

function exceedsGuard(going: number, existing: number, deletion: typeof DEFAULT_DELETION): boolean {
  if (going === 0 || existing === 0) return false;
  // Everyone at once is held whatever the directory's size (an IdP that lists no one by mistake),
  // unless the guard is switched off with maxDeletionPercent 100.
  if (going >= existing && deletion.maxDeletionPercent < 100) return true;
  if (going < deletion.guardMinimum) return false;
  return (going * 100) / existing > deletion.maxDeletionPercent;
}

function heldMessage(held: HeldDeletions): string {
  const parts = [];
  if (held.users) parts.push(`${held.users} user deletion(s)`);
  if (held.groups) parts.push(`${held.groups} group deletion(s)`);
  return `${parts.join(' and ')}, more than the mass-deletion guard allows`;
}

/** Counts what the namespace holds once this plan is applied. */
function countObjects(
  input: DecideInput,
  isListed: (storedIndex: number) => boolean,
  plan: Plan,
  groupCount: number,
  groupCountAt: (position: number) => number,
  usersHeld: boolean,
): Counts {
  const expired = new Set(plan.deletions.filter((d) => d.reason === 'RetentionExpired').map((d) => d.name));
  const byState: Record<string, number> = { Active: 0, Suspended: 0, Deleted: 0 };
  let users = 0;
  let memberships = 0;
  const tally = (state: string, groups: number) => {
    users++;
    byState[state] = (byState[state] ?? 0) + 1;
    memberships += groups;
  };
  input.snapshot.users.forEach((u, position) => tally(u.state, groupCountAt(position)));
  const unconfirmed = new Set(plan.unconfirmed.users);
  for (let i = 0; i < input.existingUsers.length; i++) {
    const existing = input.existingUsers[i];
    if (isListed(i) || expired.has(existing.metadata.name!)) continue;
    const kept = existing.spec.state !== 'Deleted' && (usersHeld || unconfirmed.has(existing.metadata.name!));
    tally(kept ? existing.spec.state : 'Deleted', kept ? (existing.spec.groupCount ?? existing.spec.groups.length) : 0);
  }
  return {
    users,
    activeUsers: byState.Active,
    suspendedUsers: byState.Suspended,
    deletedUsers: byState.Deleted,
    groups: groupCount + (plan.held?.groups ?? 0),
    memberships,
    ...(plan.unconfirmed.users.length ? { missingUsers: plan.unconfirmed.users.length } : {}),
    ...(plan.unconfirmed.groups.length ? { missingGroups: plan.unconfirmed.groups.length } : {}),
  };
}

function namesOf(ids: readonly string[], names: Map<string, string>): string[] {
  return ids.map((id) => names.get(id)).filter((n): n is string => n !== undefined).sort();
}

/**
 * The rank of each active person (by position in `users`) when the active are sorted by login, ties in
 * the order listed; -1 for everyone else.
 */
function activePositionsByLogin(users: readonly DirectoryUser[]): Int32Array {
  const logins = new Array<string>(users.length);
  const active = new Int32Array(users.length);
  let count = 0;
  for (let position = 0; position < users.length; position++) {
    const u = users[position];
    logins[position] = u.login;
    if (u.state === 'Active') active[count++] = position;
  }
  const order = sortByKey(active.subarray(0, count), logins);
  const rankAt = new Int32Array(users.length).fill(-1);
  for (let rank = 0; rank < count; rank++) rankAt[order[rank]] = rank;
  return rankAt;
}

/** The order of Array.prototype.sort() without a comparator, for strings: by UTF-16 code unit. */
function compareStrings(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The logins of members given by number. Group.spec.members lists the MAX_LISTED_MEMBERS smallest logins,
 * sorted: members are numbered in login order, so those are the smallest numbers, with no logins sorted.
 */
function loginsOf(ranks: Int32Array, logins: readonly string[]): string[] {
  const out = new Array<string>(ranks.length);
  for (let i = 0; i < ranks.length; i++) out[i] = logins[ranks[i]];
  return out;
}

/**
 * A Group's spec. The usual group (no capped nesting) is one object literal; spreads of
 * optional fields would cost a runtime call each for twenty thousand groups. The keys are in the same
 * order either way, so the JSON is the same.
 */
function groupSpec(directory: string, g: DirectoryGroup, f: IndexedFlatGroup, members: string[], parents: string[], children: string[]): GroupSpec {
  const capped = parents.length > MAX_LISTED_NESTING || children.length > MAX_LISTED_NESTING;
  if (!capped) {
    const { members: { length: memberCount }, directMembers: directMemberCount } = f;
    return g.description
      ? { directory, idpId: g.id, displayName: g.name, kind: g.kind, description: g.description, memberCount, directMemberCount, members, parents, children }
      : { directory, idpId: g.id, displayName: g.name, kind: g.kind, memberCount, directMemberCount, members, parents, children };
  }
  const spec = { directory, idpId: g.id, displayName: g.name, kind: g.kind } as GroupSpec;
  if (g.description) spec.description = g.description;
  spec.memberCount = f.members.length;
  spec.directMemberCount = f.directMembers;
  spec.members = members;
  spec.parents = parents.slice(0, MAX_LISTED_NESTING);
  spec.children = children.slice(0, MAX_LISTED_NESTING);
  if (parents.length > MAX_LISTED_NESTING) spec.parentCount = parents.length;
  if (children.length > MAX_LISTED_NESTING) spec.childCount = children.length;
  return spec;
}

/**
 * True when the spec the group loop would build is the one stored, compared field by field without
 * building it: a resync has twenty thousand groups to compare, most with a thousand members listed.
 * Anything unusual answers false, and the full comparison decides.
 */
function unchangedGroupSpec(
  spec: GroupSpec,
  directory: string,
  g: DirectoryGroup,
  f: IndexedFlatGroup,
  memberRanks: Int32Array,
  logins: readonly string[],
  parents: readonly string[],
  children: readonly string[],
): boolean {
  if (spec.directory !== directory || spec.idpId !== g.id || spec.displayName !== g.name || spec.kind !== g.kind || !sameOptional(spec.description, g.description)) return false;
  if (spec.memberCount !== f.members.length || spec.directMemberCount !== f.directMembers) return false;
  if (!sameLogins(spec.members, memberRanks, logins)) return false;
  if (!sameFirst(spec.parents, parents, MAX_LISTED_NESTING) || spec.parentCount !== (parents.length > MAX_LISTED_NESTING ? parents.length : undefined)) return false;
  if (!sameFirst(spec.children, children, MAX_LISTED_NESTING) || spec.childCount !== (children.length > MAX_LISTED_NESTING ? children.length : undefined)) return false;
  // directory, idpId, displayName, kind, memberCount, directMemberCount, members, parents and children, and the optional fields that are set.
  const keys = 9 + Number(!!g.description) + Number(parents.length > MAX_LISTED_NESTING) + Number(children.length > MAX_LISTED_NESTING);
  return keyCount(spec) === keys;
}

/**
 * How many enumerable keys an object has, without the array Object.keys() would make for each of a
 * hundred thousand stored objects. An enumerable key inherited from a prototype would count too, and only
 * ever make an unchanged object look changed, which the full comparison then settles.
 */
function keyCount(o: object): number {
  let count = 0;
  for (const _ in o) count++;
  return count;
}

function sameLogins(listed: unknown, ranks: Int32Array, logins: readonly string[]): boolean {
  if (!Array.isArray(listed) || listed.length !== ranks.length) return false;
  for (let i = 0; i < ranks.length; i++) if (listed[i] !== logins[ranks[i]]) return false;
  return true;
}

/** Whether `listed` is exactly the first `limit` of `names`. */
function sameFirst(listed: unknown, names: readonly string[], limit: number): boolean {
  const length = Math.min(names.length, limit);
  if (!Array.isArray(listed) || listed.length !== length) return false;
  for (let i = 0; i < length; i++) if (listed[i] !== names[i]) return false;
  return true;
}

function emptyCounts(): Counts {
  return { users: 0, activeUsers: 0, suspendedUsers: 0, deletedUsers: 0, groups: 0, memberships: 0 };
}

function pickUserSpec(spec: UserSpec): OperatorUserSpec {
  const { role: _role, ...rest } = spec;
  return rest;
}
