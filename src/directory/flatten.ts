// Transitive ("nested") group membership. A group's members are its direct members plus the members of
// every group nested in it, at any depth. Cycles (A ⊂ B ⊂ A) and diamonds are handled by collapsing the
// nesting graph into strongly connected components first: every group in a cycle has the same members.
import type { DirectoryGroup } from './snapshot.js';

export interface FlatGroup {
  /** User ids reachable through this group and every group nested in it. */
  members: Set<string>;
  /** Ids of groups nested directly in this one that exist in the directory. */
  children: string[];
  /** Ids of groups this one is directly nested in. */
  parents: string[];
}

export interface IndexedFlatGroup {
  /** Numbers (from the caller's `UserNumbers`) of the users reachable through this group, each once, in no order. Shared by every group of a cycle: do not modify. */
  members: Int32Array;
  /** How many of the group's own user entries count (they have a number): its direct members. */
  directMembers: number;
  children: string[];
  parents: string[];
}

/**
 * Flattens nesting. `isMember(userId)` filters who counts (e.g. only active users); unknown group ids
 * (a nested group the IdP did not list) are ignored rather than guessed.
 */
export function flattenGroups(groups: readonly DirectoryGroup[], isMember: (userId: string) => boolean = () => true): Map<string, FlatGroup> {
  const ids: string[] = [];
  const indexOfId = new Map<string, number>();
  for (const g of groups) {
    for (const userId of g.memberUserIds) {
      if (indexOfId.has(userId) || !isMember(userId)) continue;
      indexOfId.set(userId, ids.length);
      ids.push(userId);
    }
  }
  const indexed = flattenGroupsIndexed(groups, { positionOf: indexOfId, numberAt: Int32Array.from(ids, (_, i) => i) }, ids.length);
  const sets = new Map<Int32Array, Set<string>>();
  const result = new Map<string, FlatGroup>();
  groups.forEach((g, listed) => {
    const flat = indexed[listed];
    let members = sets.get(flat.members);
    if (!members) sets.set(flat.members, (members = new Set(Array.from(flat.members, (i) => ids[i]))));
    result.set(g.id, { members, children: flat.children, parents: flat.parents });
  });
  return result;
}

/**
 * How users are numbered for flattening: user id → position (the caller's index of its users, which it
 * has anyway) → number, 0 ≤ number < `users`. A user with no position, or a negative number, does not count.
 */
export interface UserNumbers {
  positionOf: ReadonlyMap<string, number>;
  numberAt: Int32Array;
}

/**
 * The same flattening over user numbers, by position in `groups`: one lookup per direct membership and
 * no Sets, which is what keeps a directory of 100,000 people and a million memberships fast. The lookup
 * is a Map rather than a function: it is the innermost step, and a call per membership costs about as
 * much as the lookup itself.
 */
export function flattenGroupsIndexed(groups: readonly DirectoryGroup[], people: UserNumbers, users: number): IndexedFlatGroup[] {
  // Groups are numbered by id, in the order the ids first appear; as in a Map built from the list, the
  // last group listed with an id is the one whose members count.
  const numberOf = new Map<string, number>();
  const groupAt: DirectoryGroup[] = [];
  for (const g of groups) {
    const number = numberOf.get(g.id);
    if (number === undefined) {
      numberOf.set(g.id, groupAt.length);
      groupAt.push(g);
    } else groupAt[number] = g;
  }
  const children: string[][] = new Array(groupAt.length);
  const parents: string[][] = Array.from({ length: groupAt.length }, () => []);
  const taken = new Int32Array(groupAt.length);
  for (let listed = 0; listed < groups.length; listed++) {
    const g = groups[listed];
    const kids = nestedGroups(g, numberOf, taken, listed + 1);
    children[numberOf.get(g.id)!] = kids;
    for (const kid of kids) parents[numberOf.get(kid)!].push(g.id);
  }
  const childNumbers = children.map((kids) => kids.map((kid) => numberOf.get(kid)!));

  const components = componentsOfGraph(
    groups.map((g) => numberOf.get(g.id)!),
    (number) => childNumbers[number],
    groupAt.length,
  );
  // Tarjan's algorithm emits components in reverse topological order (children before parents),
  // so each component can union the already-finished member lists of the components it points to.
  // `seenIn[user]` holds the last component (plus one) that took the user, so a union never repeats one.
  const componentOf = new Int32Array(groupAt.length);
  components.forEach((members, index) => members.forEach((number) => (componentOf[number] = index)));
  const directOf = directMembersOf(groupAt, people);
  const componentMembers: Int32Array[] = [];
  const seenIn = new Int32Array(users);
  let buffer: Int32Array = new Int32Array(1024);
  const direct = new Int32Array(groupAt.length);
  for (let index = 0; index < components.length; index++) {
    const mark = index + 1;
    let size = 0;
    for (const number of components[index]) {
      const ownMembers = directOf[number];
      buffer = withRoom(buffer, size, ownMembers.length);
      for (let i = 0; i < ownMembers.length; i++) {
        const user = ownMembers[i];
        if (seenIn[user] === mark) continue;
        seenIn[user] = mark;
        buffer[size++] = user;
      }
      direct[number] = ownMembers.length;
      for (const kid of childNumbers[number]) {
        const kidComponent = componentOf[kid];
        if (kidComponent === index) continue;
        const kidMembers = componentMembers[kidComponent];
        buffer = withRoom(buffer, size, kidMembers.length);
        for (let i = 0; i < kidMembers.length; i++) {
          const user = kidMembers[i];
          if (seenIn[user] === mark) continue;
          seenIn[user] = mark;
          buffer[size++] = user;
        }
      }
    }
    componentMembers[index] = buffer.slice(0, size);
  }

  // A group listed twice shares one entry: the last one listed counts, as in a Map built from the list.
  const entries = groupAt.map((_, number) => ({
    members: componentMembers[componentOf[number]],
    directMembers: direct[number],
    children: children[number],
    parents: parents[number],
  }));
  return groups.map((g) => entries[numberOf.get(g.id)!]);
}

/**
 * Each group's direct members that have a number, as numbers in the order listed (a repeat counts
 * again, as a direct member). The lookups run group by group, apart from the unions, which measured
 * faster at a million memberships than looking up inside the union loop.
 */
function directMembersOf(groups: readonly DirectoryGroup[], { positionOf, numberAt }: UserNumbers): Int32Array[] {
  let scratch = new Int32Array(1024);
  return groups.map((g) => {
    const ids = g.memberUserIds;
    if (ids.length > scratch.length) scratch = new Int32Array(ids.length * 2);
    let known = 0;
    for (let i = 0; i < ids.length; i++) {
      const position = positionOf.get(ids[i]);
      if (position === undefined) continue;
      const user = numberAt[position];
      if (user >= 0) scratch[known++] = user;
    }
    return scratch.slice(0, known);
  });
}

/** `buffer`, or a larger copy of its first `size` numbers when `extra` more would not fit. */
function withRoom(buffer: Int32Array, size: number, extra: number): Int32Array {
  if (size + extra <= buffer.length) return buffer;
  const grown = new Int32Array(Math.max(buffer.length * 2, size + extra));
  grown.set(buffer.subarray(0, size));
  return grown;
}

/**
 * The groups nested directly in `g` that exist, each once, in the order listed. `taken[n]` holds the
 * `stamp` of the last list that took group n, so no Set is built per group.
 */
function nestedGroups(g: DirectoryGroup, numberOf: ReadonlyMap<string, number>, taken: Int32Array, stamp: number): string[] {
  const kids: string[] = [];
  for (const id of g.memberGroupIds) {
    const number = numberOf.get(id);
    if (number === undefined || id === g.id || taken[number] === stamp) continue;
    taken[number] = stamp;
    kids.push(id);
  }
  return kids;
}

/** Iterative Tarjan: no recursion, so nesting depth cannot overflow the stack. */
export function stronglyConnectedComponents(nodes: readonly string[], edges: (node: string) => readonly string[]): string[][] {
  // Every node reachable from `nodes` gets a number, and the search runs on those.
  const numberOf = new Map<string, number>();
  const named: string[] = [];
  const numberedEdges: number[][] = [];
  const number = (node: string) => {
    let n = numberOf.get(node);
    if (n === undefined) {
      numberOf.set(node, (n = named.length));
      named.push(node);
    }
    return n;
  };
  const roots = nodes.map(number);
  for (let n = 0; n < named.length; n++) numberedEdges.push(edges(named[n]).map(number));
  return componentsOfGraph(roots, (n) => numberedEdges[n], named.length).map((component) => component.map((n) => named[n]));
}

/**
 * Tarjan's algorithm over nodes numbered 0 ≤ n < `count`, searching from each root in turn: the
 * components, each listed from the last node reached back to its root, children before parents.
 */
function componentsOfGraph(roots: readonly number[], edges: (node: number) => readonly number[], count: number): number[][] {
  const index = new Int32Array(count).fill(-1);
  const lowlink = new Int32Array(count);
  const onStack = new Uint8Array(count);
  const stack = new Int32Array(count);
  let stackSize = 0;
  const workNode = new Int32Array(count);
  const workNext = new Int32Array(count);
  const components: number[][] = [];
  let counter = 0;

  for (const root of roots) {
    if (index[root] >= 0) continue;
    let depth = 1;
    workNode[0] = root;
    workNext[0] = 0;
    index[root] = lowlink[root] = counter++;
    stack[stackSize++] = root;
    onStack[root] = 1;
    while (depth > 0) {
      const node = workNode[depth - 1];
      const out = edges(node);
      if (workNext[depth - 1] < out.length) {
        const target = out[workNext[depth - 1]++];
        if (index[target] < 0) {
          index[target] = lowlink[target] = counter++;
          stack[stackSize++] = target;
          onStack[target] = 1;
          workNode[depth] = target;
          workNext[depth] = 0;
          depth++;
        } else if (onStack[target]) {
          lowlink[node] = Math.min(lowlink[node], index[target]);
        }
        continue;
      }
      depth--;
      if (depth > 0) {
        const parent = workNode[depth - 1];
        lowlink[parent] = Math.min(lowlink[parent], lowlink[node]);
      }
      if (lowlink[node] === index[node]) {
        const component: number[] = [];
        let member: number;
        do {
          member = stack[--stackSize];
          onStack[member] = 0;
          component.push(member);
        } while (member !== node);
        components.push(component);
      }
    }
  }
  return components;
}
