// Transitive ("nested") group membership. A group's members are its direct members plus the members of
// every group nested in it, at any depth. Cycles (A ⊂ B ⊂ A) and diamonds are handled by collapsing the
// nesting graph into strongly connected components first: every group in a cycle has the same members.
import type { DirectoryGroup } from '../providers/types.js';

export interface FlatGroup {
  /** User ids reachable through this group and every group nested in it. */
  members: Set<string>;
  /** Ids of groups nested directly in this one that exist in the directory. */
  children: string[];
  /** Ids of groups this one is directly nested in. */
  parents: string[];
}

/**
 * Flattens nesting. `isMember(userId)` filters who counts (e.g. only active users); unknown group ids
 * (a nested group the IdP did not list) are ignored rather than guessed.
 */
export function flattenGroups(groups: readonly DirectoryGroup[], isMember: (userId: string) => boolean = () => true): Map<string, FlatGroup> {
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
  // so each component can union the already-finished sets of the components it points to.
  const componentOf = new Map<string, number>();
  components.forEach((members, index) => members.forEach((id) => componentOf.set(id, index)));
  const componentMembers: Set<string>[] = [];
  components.forEach((ids, index) => {
    const members = new Set<string>();
    for (const id of ids) {
      for (const userId of byId.get(id)!.memberUserIds) if (isMember(userId)) members.add(userId);
      for (const kid of children.get(id)!) {
        const kidComponent = componentOf.get(kid)!;
        if (kidComponent !== index) for (const userId of componentMembers[kidComponent]) members.add(userId);
      }
    }
    componentMembers[index] = members;
  });

  const result = new Map<string, FlatGroup>();
  for (const g of groups) {
    result.set(g.id, {
      members: componentMembers[componentOf.get(g.id)!],
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
