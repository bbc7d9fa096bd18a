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
  /** Indices (from the caller's `indexOf`) of the users reachable through this group, each once, in no order. Shared by every group of a cycle: do not modify. */
  members: Int32Array;
  /** How many of the group's own user entries count (`indexOf` knew them): its direct members. */
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
  const indexed = flattenGroupsIndexed(groups, indexOfId, ids.length);
  const sets = new Map<Int32Array, Set<string>>();
  const result = new Map<string, FlatGroup>();
  for (const [id, flat] of indexed) {
    let members = sets.get(flat.members);
    if (!members) sets.set(flat.members, (members = new Set(Array.from(flat.members, (i) => ids[i]))));
    result.set(id, { members, children: flat.children, parents: flat.parents });
  }
  return result;
}

/**
 * The same flattening over user indices (0 ≤ index < `users`; a user missing from `indexOf` does not
 * count): one lookup per direct membership and no Sets, which is what keeps a directory of 100,000
 * people and a million memberships fast. The lookup is a Map rather than a function: it is the
 * innermost step, and a call per membership costs about as much as the lookup itself.
 */
export function flattenGroupsIndexed(
  groups: readonly DirectoryGroup[],
  indexOf: ReadonlyMap<string, number>,
  users: number,
): Map<string, IndexedFlatGroup> {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const children = new Map<string, string[]>();
  const parents = new Map<string, string[]>(groups.map((g) => [g.id, []]));
  for (const g of groups) {
    const kids = [...new Set(g.memberGroupIds)].filter((id) => byId.has(id) && id !== g.id);
    children.set(g.id, kids);
    for (const kid of kids) parents.get(kid)!.push(g.id);
  }

  const components = stronglyConnectedComponents(
    groups.map((g) => g.id),
    (id) => children.get(id)!,
  );
  // Tarjan's algorithm emits components in reverse topological order (children before parents),
  // so each component can union the already-finished member lists of the components it points to.
  // `seenIn[user]` holds the last component (plus one) that took the user, so a union never repeats one.
  const componentOf = new Map<string, number>();
  components.forEach((members, index) => members.forEach((id) => componentOf.set(id, index)));
  const componentMembers: Int32Array[] = [];
  const seenIn = new Int32Array(users);
  let buffer = new Int32Array(1024);
  const direct = new Map<string, number>();
  for (let index = 0; index < components.length; index++) {
    const mark = index + 1;
    let size = 0;
    const make = (extra: number) => {
      if (size + extra <= buffer.length) return;
      const grown = new Int32Array(Math.max(buffer.length * 2, size + extra));
      grown.set(buffer.subarray(0, size));
      buffer = grown;
    };
    for (const id of components[index]) {
      let directMembers = 0;
      const userIds = byId.get(id)!.memberUserIds;
      make(userIds.length);
      for (let i = 0; i < userIds.length; i++) {
        const user = indexOf.get(userIds[i]);
        if (user === undefined) continue;
        directMembers++;
        if (seenIn[user] === mark) continue;
        seenIn[user] = mark;
        buffer[size++] = user;
      }
      direct.set(id, directMembers);
      for (const kid of children.get(id)!) {
        const kidComponent = componentOf.get(kid)!;
        if (kidComponent === index) continue;
        const kidMembers = componentMembers[kidComponent];
        make(kidMembers.length);
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

  const result = new Map<string, IndexedFlatGroup>();
  for (const g of groups) {
    result.set(g.id, {
      members: componentMembers[componentOf.get(g.id)!],
      directMembers: direct.get(g.id)!,
      children: children.get(g.id)!,
      parents: parents.get(g.id)!,
    });
  }
  return result;
}

/** Iterative Tarjan: no recursion, so nesting depth cannot overflow the stack. */
export function stronglyConnectedComponents(nodes: readonly string[], edges: (node: string) => readonly string[]): string[][] {
  const index = new Map<string, number>();
  const lowlink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;

  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: string; next: number }[] = [{ node: root, next: 0 }];
    index.set(root, counter);
    lowlink.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1];
      const out = edges(frame.node);
      if (frame.next < out.length) {
        const target = out[frame.next++];
        if (!index.has(target)) {
          index.set(target, counter);
          lowlink.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0 });
        } else if (onStack.has(target)) {
          lowlink.set(frame.node, Math.min(lowlink.get(frame.node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].node;
        lowlink.set(parent, Math.min(lowlink.get(parent)!, lowlink.get(frame.node)!));
      }
      if (lowlink.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  }
  return components;
}

/**
 * The `limit` smallest of `ranks`, ascending, without sorting them all: a partial selection (quickselect)
 * moves the smallest to the front in linear time, and only those are sorted. Reorders `ranks`.
 */
export function smallestSorted(ranks: Int32Array, limit: number): Int32Array {
  if (ranks.length <= limit) return ranks.sort();
  const target = limit - 1;
  let lo = 0;
  let hi = ranks.length - 1;
  while (hi > lo) {
    const pivot = medianOfThree(ranks[lo], ranks[(lo + hi) >>> 1], ranks[hi]);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (ranks[i] < pivot) i++;
      while (ranks[j] > pivot) j--;
      if (i <= j) {
        const swap = ranks[i];
        ranks[i++] = ranks[j];
        ranks[j--] = swap;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return ranks.subarray(0, limit).sort();
}

/**
 * The `limit` smallest of `ranks` (distinct, each below `universe`), ascending; leaves `ranks` as it is.
 * Ranks spread over the universe, so about `limit` of them fall below universe × limit / length: one pass
 * keeps those below a little more than that, and only they are selected from. Should too few fall below
 * it, all of them are.
 */
export function smallestOf(ranks: Int32Array, limit: number, universe: number): Int32Array {
  if (ranks.length <= limit) return ranks.slice().sort();
  const below = Math.ceil((universe * limit * 1.25) / ranks.length) + 64;
  const kept = new Int32Array(Math.min(ranks.length, 2 * limit));
  let size = 0;
  for (let i = 0; i < ranks.length && size < kept.length; i++) if (ranks[i] < below) kept[size++] = ranks[i];
  if (size < limit || size === kept.length) return smallestSorted(ranks.slice(), limit);
  return smallestSorted(kept.subarray(0, size), limit);
}

function medianOfThree(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}
