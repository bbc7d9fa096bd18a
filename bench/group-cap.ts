// decide() for people at the 5,000-group cap of User.spec.groups: 20 people each in 6,000 groups (so
// their lists are cut at 5,000) among 10,000 others, then a resync in which each of them lost one group.
// Prints wall and CPU time of that resync. Run: npx tsx bench/group-cap.ts
import { decide } from '../src/directory/decide.js';
import { directory, group, materialise, snapshot, user } from '../test/support/builders.js';

const HEAVY = 20;
const GROUPS = 6_000;
const OTHERS = 10_000;

const heavy = Array.from({ length: HEAVY }, (_, i) => user(`heavy-${i}`));
const others = Array.from({ length: OTHERS }, (_, i) => user(`u-${i}`));
const groups = (dropFirst: boolean) =>
  Array.from({ length: GROUPS }, (_, g) =>
    group(`g-${g}`, `group-${String(g).padStart(5, '0')}`, [
      ...heavy.filter(() => !(dropFirst && g === 0)).map((u) => u.id),
      others[g % OTHERS].id,
    ]),
  );
const dir = directory();
const now = new Date('2026-01-01T00:00:00Z');
const first = decide({ directory: dir, snapshot: snapshot([...heavy, ...others], groups(false)), existingUsers: [], existingGroups: [], now });
const existing = materialise([], [], first);
const runs: { wall: number; cpu: number; revocations: number }[] = [];
for (let i = 0; i < 5; i++) {
  const cpu = process.cpuUsage();
  const t = performance.now();
  const plan = decide({ directory: dir, snapshot: snapshot([...heavy, ...others], groups(true)), existingUsers: existing.users, existingGroups: existing.groups, now });
  const used = process.cpuUsage(cpu);
  runs.push({ wall: (performance.now() - t) / 1000, cpu: (used.user + used.system) / 1e6, revocations: plan.revocations.length });
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const listed = first.users.find((u) => u.name.includes('heavy'))!.spec;
console.log(`${HEAVY} people in ${GROUPS} groups each (listed ${listed.groups.length}, groupCount ${listed.groupCount}), ${OTHERS} others`);
console.log(`resync where each lost one group: ${median(runs.map((r) => r.wall)).toFixed(3)} s wall, ${median(runs.map((r) => r.cpu)).toFixed(3)} s CPU (median of 5), ${runs[0].revocations} revocations`);
