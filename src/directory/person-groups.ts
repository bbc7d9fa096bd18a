// Which groups each person is in, for a directory of a hundred thousand people and a million memberships:
// one array of group numbers, each person's run of it back to back (their groups in name order), rather
// than a list of names per person. A person's names are only put in a list when their User is written.

export class PersonGroups {
  private constructor(
    /** Group names, in name order: a group's number is its index here. */
    private readonly nameOf: readonly string[],
    /** Person r's groups are `groups[start[r]]` up to, not including, `groups[start[r + 1]]`. */
    private readonly start: Int32Array,
    private readonly groups: Int32Array,
    /** How many people each group has. */
    private readonly sizes: Int32Array,
  ) {}

  /** From groups given in name order, with their members numbered 0 ≤ n < `people`. */
  static of(groups: readonly { name: string; members: Int32Array }[], people: number): PersonGroups {
    const start = new Int32Array(people + 1);
    for (const g of groups) for (let i = 0; i < g.members.length; i++) start[g.members[i] + 1]++;
    for (let person = 0; person < people; person++) start[person + 1] += start[person];
    const next = start.slice(0, people);
    const numbers = new Int32Array(start[people]);
    for (let number = 0; number < groups.length; number++) {
      const members = groups[number].members;
      for (let i = 0; i < members.length; i++) numbers[next[members[i]]++] = number;
    }
    return new PersonGroups(
      groups.map((g) => g.name),
      start,
      numbers,
      Int32Array.from(groups, (g) => g.members.length),
    );
  }

  /**
   * The first `limit` people of each group (the smallest numbers), ascending, by group number. Reading
   * the people back in order lists every group's members in order, so none are sorted or selected.
   */
  firstMembers(limit: number): Int32Array[] {
    const groupCount = this.nameOf.length;
    const start = new Int32Array(groupCount + 1);
    for (let group = 0; group < groupCount; group++) start[group + 1] = start[group] + Math.min(this.sizes[group], limit);
    const next = start.slice(0, groupCount);
    const members = new Int32Array(start[groupCount]);
    const people = this.start.length - 1;
    for (let person = 0; person < people; person++) {
      for (let i = this.start[person]; i < this.start[person + 1]; i++) {
        const group = this.groups[i];
        if (next[group] < start[group + 1]) members[next[group]++] = person;
      }
    }
    return Array.from({ length: groupCount }, (_, group) => members.subarray(start[group], start[group + 1]));
  }

  /** How many groups a person is in; -1 stands for no one, in no group. */
  count(person: number): number {
    return person < 0 ? 0 : this.start[person + 1] - this.start[person];
  }

  /** The names of a person's groups, sorted. */
  names(person: number): string[] {
    const out = new Array<string>(this.count(person));
    const from = person < 0 ? 0 : this.start[person];
    for (let i = 0; i < out.length; i++) out[i] = this.nameOf[this.groups[from + i]];
    return out;
  }

  /** Whether `listed` holds exactly a person's first `limit` group names, in order. */
  listsFirst(person: number, listed: readonly unknown[], limit: number): boolean {
    const length = Math.min(this.count(person), limit);
    if (listed.length !== length) return false;
    const from = person < 0 ? 0 : this.start[person];
    for (let i = 0; i < length; i++) if (listed[i] !== this.nameOf[this.groups[from + i]]) return false;
    return true;
  }
}
