// What the driver reads from Graph: the full directory, the delta rounds, and app assignments.
import { StallError, TransientError } from '../../errors.js';
import { describeUrl } from '../../util/http.js';
import { graphErrorText, parsePage, type GraphClient, type GraphPermission } from './graph.js';
import {
  applyGroups,
  applyMembers,
  applyUsers,
  cloneState,
  emptyState,
  type Assignments,
  type GraphDirectoryObject,
  type GraphGroup,
  type GraphUser,
  type TenantState,
} from './state.js';

export const USER_SELECT = 'id,displayName,userPrincipalName,mail,accountEnabled';
const GROUP_SELECT = 'id,displayName,description';
const DELTA_GROUP_SELECT = 'displayName,description,members';
const PAGE_SIZE = '999';
/** Groups whose members are read at once in a full read (the HTTP client bounds requests in flight too). */
const MEMBER_READERS = 4;

/** Users, groups and direct members, with plain list calls (one members call per group at least). */
export async function readFull(graph: GraphClient, signal?: AbortSignal, onlyGroups?: Set<string>): Promise<TenantState> {
  const state = emptyState();
  const users = await graph.all<GraphUser>(graph.url('/users', { $select: USER_SELECT, $top: PAGE_SIZE }), 'User.Read.All', signal);
  applyUsers(state, users);
  const groups = await graph.all<GraphGroup>(graph.url('/groups', { $select: GROUP_SELECT, $top: PAGE_SIZE }), 'GroupMember.Read.All', signal);
  applyGroups(state, onlyGroups ? groups.filter((g) => onlyGroups.has(g.id)) : groups);
  await forEachLimited([...state.groups.values()], MEMBER_READERS, async (group) => {
    const url = graph.url(`/groups/${encodeURIComponent(group.id)}/members`, { $select: 'id', $top: PAGE_SIZE });
    applyMembers(group, await graph.all<GraphDirectoryObject>(url, 'GroupMember.Read.All', signal));
  });
  return state;
}

/** Runs `work` over `items` with at most `limit` at once; the first failure stops the rest and is thrown. */
async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export interface DeltaLinks {
  users: string;
  groups: string;
}

export interface DeltaPicture {
  state: TenantState;
  links: DeltaLinks;
}

/** Graph no longer holds the state behind a delta or skip token: start that collection again. */
export class DeltaTokenExpired extends Error {}

const EXPIRED_CODES = new Set(['syncStateNotFound', 'syncStateInvalid', 'resyncRequired']);

/** Follows a delta round from `url` to its @odata.deltaLink, handing each page to `apply`. */
async function followDelta<T>(
  graph: GraphClient,
  url: string,
  permission: GraphPermission,
  apply: (items: T[]) => void,
  signal?: AbortSignal,
): Promise<string> {
  for (let next = url; ; ) {
    const res = await graph.get(next, permission, signal, [400, 410]);
    if (res.status === 410 || res.status === 400) {
      const code = (res.body as { error?: { code?: string } } | undefined)?.error?.code;
      if (res.status === 410 || (code && EXPIRED_CODES.has(code))) throw new DeltaTokenExpired(code ?? 'Gone');
      const text = graphErrorText(res.body);
      throw new StallError('InvalidConfiguration', `Entra: ${describeUrl(next)} answered 400${text ? `: ${text}` : ''}`);
    }
    const page = parsePage<T>(res.body, next, graph.origin);
    apply(page.value);
    if (page.deltaLink) return page.deltaLink;
    if (!page.nextLink) {
      throw new TransientError('MalformedResponse', `Entra: ${describeUrl(next)} ended a delta round without @odata.deltaLink`);
    }
    next = page.nextLink;
  }
}

/**
 * One delta round for users and groups. With a previous picture its delta links are followed and
 * the changes applied to a copy; a collection whose token Graph has forgotten is read again from
 * scratch in the same call. The previous picture is never modified, so a failure leaves it intact.
 */
export async function syncDelta(graph: GraphClient, previous: DeltaPicture | undefined, signal?: AbortSignal): Promise<DeltaPicture> {
  const state = previous ? cloneState(previous.state) : emptyState();
  const initialUsers = graph.url('/users/delta', { $select: USER_SELECT });
  const initialGroups = graph.url('/groups/delta', { $select: DELTA_GROUP_SELECT });

  const users = await withResync(
    previous?.links.users,
    initialUsers,
    () => state.users.clear(),
    (url) => followDelta<GraphUser>(graph, url, 'User.Read.All', (items) => applyUsers(state, items), signal),
  );
  const groups = await withResync(
    previous?.links.groups,
    initialGroups,
    () => state.groups.clear(),
    (url) => followDelta<GraphGroup>(graph, url, 'GroupMember.Read.All', (items) => applyGroups(state, items), signal),
  );
  return { state, links: { users, groups } };
}

async function withResync(
  link: string | undefined,
  initial: string,
  reset: () => void,
  round: (url: string) => Promise<string>,
): Promise<string> {
  if (!link) return round(initial);
  try {
    return await round(link);
  } catch (err) {
    if (!(err instanceof DeltaTokenExpired)) throw err;
    reset();
    return round(initial);
  }
}

interface ServicePrincipal {
  id: string;
  appId?: string;
}

interface AppRoleAssignment {
  principalId?: string;
  principalType?: string;
}

/** The groups and users assigned to the enterprise app (service principal) of `appId`. */
export async function readAssignments(graph: GraphClient, appId: string, signal?: AbortSignal): Promise<Assignments> {
  const filter = `appId eq '${appId.replace(/'/g, "''")}'`;
  const found = await graph.page<ServicePrincipal>(
    graph.url('/servicePrincipals', { $filter: filter, $select: 'id,appId' }),
    'Application.Read.All',
    signal,
  );
  const sp = found.value[0];
  if (!sp?.id) {
    throw new StallError(
      'InvalidConfiguration',
      `Entra: no enterprise application (service principal) with appId ${appId} in this tenant; check provider.entra.appId`,
    );
  }
  const assigned = await graph.all<AppRoleAssignment>(
    graph.url(`/servicePrincipals/${encodeURIComponent(sp.id)}/appRoleAssignedTo`, { $top: PAGE_SIZE }),
    'Application.Read.All',
    signal,
  );
  const result: Assignments = { groupIds: new Set(), userIds: new Set() };
  for (const a of assigned) {
    if (typeof a.principalId !== 'string') throw new TransientError('MalformedResponse', 'Entra: an app role assignment without principalId');
    if (a.principalType === 'Group') result.groupIds.add(a.principalId);
    else if (a.principalType === 'User') result.userIds.add(a.principalId);
  }
  return result;
}
