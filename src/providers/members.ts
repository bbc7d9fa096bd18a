// The people of a snapshot, for narrowing group members to them. A member id read from a members
// list is a copy of the user's id; the drivers list the user's own id string instead, so a snapshot
// holds one string per person rather than one per membership, and planning, which looks every member
// up by user id, compares pointers instead of contents.

export class KnownPeople {
  private readonly byId = new Map<string, string>();

  constructor(ids: Iterable<string>) {
    for (const id of ids) if (!this.byId.has(id)) this.byId.set(id, id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** The user's own id string, or undefined when `id` is not one of the people. */
  own(id: string): string | undefined {
    return this.byId.get(id);
  }

  /** Each id that is one of the people, once, in the order first listed: `[...new Set(ids)].filter(has)`, as own strings. */
  members(ids: Iterable<string>): string[] {
    const result: string[] = [];
    for (const id of ids instanceof Set ? ids : new Set(ids)) {
      const own = this.byId.get(id);
      if (own !== undefined) result.push(own);
    }
    return result;
  }
}
