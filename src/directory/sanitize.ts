// Checks an IdP snapshot against the API's limits before decide() plans anything, one record at a time,
// so one bad record can never stop a directory. What can be kept is shortened (a display name, a
// description); what cannot (an id or login over the limit, an id listed twice) is refused with a reason.
// A refused record changes nothing: its existing object, if any, is left exactly as it is.
import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from './snapshot.js';

/** The limits of the User and Group schemas (src/api/v1alpha1/user.ts and group.ts). */
export const RECORD_LIMITS = {
  idpId: 512,
  login: 512,
  email: 512,
  userDisplayName: 512,
  idpStatus: 64,
  groupDisplayName: 1024,
  description: 4096,
} as const;

export interface RefusedRecord {
  kind: 'User' | 'Group';
  idpId: string;
  /** A person-readable reason, safe for Events and status (no record contents beyond a short id). */
  reason: string;
}

export interface SanitizedSnapshot {
  snapshot: DirectorySnapshot;
  refused: RefusedRecord[];
  /** Fields that were shortened to fit, counted per record. */
  shortened: number;
  /** Each kept user's position in `snapshot.users`, by id: the duplicate check's index, kept for decide(). */
  userAt: ReadonlyMap<string, number>;
  /** Each kept group's position in `snapshot.groups`, by id. */
  groupAt: ReadonlyMap<string, number>;
}

export function sanitizeSnapshot(input: DirectorySnapshot): SanitizedSnapshot {
  const refused: RefusedRecord[] = [];
  let shortened = 0;
  /** Keeps each record that can be stored (shortened to fit where needed), refusing the rest; `at` gets each kept id's position. */
  const sieve = <T extends { id: string }>(
    kind: RefusedRecord['kind'],
    records: readonly T[],
    at: Map<string, number>,
    problem: (r: T, seen: ReadonlyMap<string, number>) => string | undefined,
    fit: (r: T) => T,
  ): T[] => {
    const kept: T[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      const why = problem(record, at);
      if (why) {
        refused.push({ kind, idpId: clip(record.id, 64), reason: why });
        continue;
      }
      at.set(record.id, kept.length);
      const fitted = fit(record);
      if (fitted !== record) shortened++;
      kept.push(fitted);
    }
    return kept;
  };
  const userAt = new Map<string, number>();
  const groupAt = new Map<string, number>();
  const users = sieve('User', input.users, userAt, userProblem, fitUser);
  const groups = sieve('Group', input.groups, groupAt, (g, seen) => idProblem(g.id, seen), fitGroup);
  return { snapshot: { ...input, users, groups }, refused, shortened, userAt, groupAt };
}

function idProblem(id: string, seen: ReadonlyMap<string, number>): string | undefined {
  if (!id) return 'it has an empty id';
  if (id.length > RECORD_LIMITS.idpId) return `its id is ${id.length} characters long, over the limit of ${RECORD_LIMITS.idpId}`;
  if (seen.has(id)) return 'its id is listed more than once by the IdP; the first record with this id is used';
  return undefined;
}

function userProblem(u: DirectoryUser, seen: ReadonlyMap<string, number>): string | undefined {
  const idProblemText = idProblem(u.id, seen);
  if (idProblemText) return idProblemText;
  if (!u.login) return 'it has an empty login';
  if (u.login.length > RECORD_LIMITS.login) return `its login is ${u.login.length} characters long, over the limit of ${RECORD_LIMITS.login}`;
  return undefined;
}

function fitUser(u: DirectoryUser): DirectoryUser {
  const emailFits = u.email === undefined || u.email.length <= RECORD_LIMITS.email;
  const nameFits = u.displayName === undefined || u.displayName.length <= RECORD_LIMITS.userDisplayName;
  const statusFits = u.idpStatus === undefined || u.idpStatus.length <= RECORD_LIMITS.idpStatus;
  if (emailFits && nameFits && statusFits) return u;
  const { email, ...rest } = u;
  return {
    ...rest,
    // A shortened email address would be a different, wrong address: leave it out instead.
    ...(email !== undefined && emailFits ? { email } : {}),
    ...(u.displayName !== undefined ? { displayName: clip(u.displayName, RECORD_LIMITS.userDisplayName) } : {}),
    ...(u.idpStatus !== undefined ? { idpStatus: clip(u.idpStatus, RECORD_LIMITS.idpStatus) } : {}),
  };
}

function fitGroup(g: DirectoryGroup): DirectoryGroup {
  const nameFits = g.name.length <= RECORD_LIMITS.groupDisplayName;
  const descriptionFits = g.description === undefined || g.description.length <= RECORD_LIMITS.description;
  if (nameFits && descriptionFits) return g;
  return {
    ...g,
    name: clip(g.name, RECORD_LIMITS.groupDisplayName),
    ...(g.description !== undefined ? { description: clip(g.description, RECORD_LIMITS.description) } : {}),
  };
}

/** Cuts to at most `max` UTF-16 units (the apiserver counts characters), marking the cut with "…". */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${[...text.slice(0, max - 1)].join('').replace(/[\uD800-\uDBFF]$/, '')}…`;
}
