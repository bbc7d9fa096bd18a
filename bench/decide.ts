// decide() alone on generated directories: a first sync (nothing exists yet) and a no-op resync (what
// the first sync wrote exists), median of a few runs, and the peak resident memory of the process that
// ran that size. Each size runs in its own process so one size's garbage does not weigh on the next.
// Run: npm run bench [-- --quick] [-- --runs 5] [-- --parsed] [-- --compiled]
// --parsed: the snapshot goes through JSON first and its members are narrowed to the users as the
// drivers do it (KnownPeople), so it holds the strings a driver's snapshot holds; and the resync's
// existing objects go through JSON, as they arrive from the apiserver, and then into the form the
// operator's cache keeps them in (compactWith: repeated strings shared). Nothing is shared with the
// first plan that the operator would not share.
// --compiled: decide() as `npm run build` compiled it (dist/), as the image runs it, instead of through
// the tsx loader (which wraps every function it names).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { decide as Decide } from '../src/directory/decide.js';
import { directory, materialise } from '../test/support/builders.js';
import { compactWith } from '../src/controllers/directorysync/owned-objects.js';
import { Interner } from '../src/util/intern.js';
import { KnownPeople } from '../src/providers/members.js';
import type { DirectorySnapshot } from '../src/directory/snapshot.js';
import { generateDirectory } from '../test/fixtures/generate-directory.js';

const SIZES: [number, number][] = [
  [10_000, 2_000],
  [30_000, 6_000],
  [100_000, 20_000],
];

interface Result {
  users: number;
  groups: number;
  memberships: number;
  firstSync: number[];
  resync: number[];
  /** CPU seconds of the whole process (GC helper threads too): steadier than wall time on a busy machine. */
  firstSyncCpu: number[];
  resyncCpu: number[];
  firstWrites: number;
  resyncWrites: number;
  peakRssMiB: number;
}

const args = process.argv.slice(2);
const passedOn = ['--parsed', '--compiled'].filter((flag) => args.includes(flag));
const { decide }: { decide: typeof Decide } = await import(args.includes('--compiled') ? '../dist/src/directory/decide.js' : '../src/directory/decide.js');
const childSize = args.indexOf('--child');

if (childSize >= 0) {
  const [users, groups] = args[childSize + 1].split(':').map(Number);
  const runs = Number(args[childSize + 2]);
  process.send!(measure(users, groups, runs, args.includes('--parsed')));
} else {
  const quick = args.includes('--quick');
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : undefined;
  console.log(`decide() benchmark — node ${process.version}, median of timed runs after one untimed first sync${args.includes('--parsed') ? '; resync from parsed objects' : ''}${args.includes('--compiled') ? '; compiled' : ''}`);
  console.log('users/groups   memberships  first sync (s)  resync (s)  cpu first/resync (s)  writes first/resync  peak RSS (MiB)');
  for (const [users, groups] of quick ? SIZES.slice(0, 2) : SIZES) {
    const r = await inChild(users, groups, runs ?? (users >= 100_000 ? 3 : 5));
    console.log(
      `${`${users / 1000}k/${groups / 1000}k`.padEnd(14)} ${String(r.memberships).padStart(11)}  ${fmt(r.firstSync).padStart(14)}  ${fmt(r.resync).padStart(10)}  ${`${fmt(r.firstSyncCpu)}/${fmt(r.resyncCpu)}`.padStart(20)}  ` +
        `${`${r.firstWrites}/${r.resyncWrites}`.padStart(19)}  ${String(r.peakRssMiB).padStart(14)}`,
    );
  }
}

function measure(users: number, groups: number, runs: number, parsed: boolean): Result {
  // Only what the operator would hold stays reachable: the generated directory goes once it is read.
  const snapshot = parsed ? asDriversGiveIt(generateDirectory({ users, groups, seed: 42 })) : generateDirectory({ users, groups, seed: 42 });
  const dir = directory();
  const now = new Date('2026-01-01T00:00:00Z');
  const firstSync: number[] = [];
  const firstSyncCpu: number[] = [];
  let first = decide({ directory: dir, snapshot, existingUsers: [], existingGroups: [], now });
  for (let i = 0; i < runs; i++) {
    // As in the operator, the plan before is gone by the time the next is made.
    first = undefined as unknown as typeof first;
    const started = performance.now();
    const cpu = process.cpuUsage();
    first = decide({ directory: dir, snapshot, existingUsers: [], existingGroups: [], now });
    firstSync.push((performance.now() - started) / 1000);
    firstSyncCpu.push(cpuSeconds(cpu));
  }
  const existing = parsed ? asCached(JSON.parse(JSON.stringify(materialise([], [], first)))) : materialise([], [], first);
  const resync: number[] = [];
  const resyncCpu: number[] = [];
  let again = first;
  for (let i = 0; i < runs; i++) {
    again = undefined as unknown as typeof again;
    const started = performance.now();
    const cpu = process.cpuUsage();
    again = decide({ directory: dir, snapshot, existingUsers: existing.users, existingGroups: existing.groups, now });
    resync.push((performance.now() - started) / 1000);
    resyncCpu.push(cpuSeconds(cpu));
  }
  return {
    users,
    groups,
    memberships: snapshot.groups.reduce((n, g) => n + g.memberUserIds.length, 0),
    firstSync,
    resync,
    firstSyncCpu,
    resyncCpu,
    firstWrites: first.users.length + first.groups.length,
    resyncWrites: again.users.length + again.groups.length,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

/** A snapshot as read from an IdP's JSON, each group's members as the users' own id strings. */
function asDriversGiveIt(snapshot: DirectorySnapshot): DirectorySnapshot {
  const read = JSON.parse(JSON.stringify(snapshot)) as DirectorySnapshot;
  const people = new KnownPeople(read.users.map((u) => u.id));
  for (const g of read.groups) g.memberUserIds = people.members(g.memberUserIds);
  return read;
}

/** Objects as the operator's cache holds them, one interner for Users and Groups as there. */
function asCached(objects: ReturnType<typeof materialise>): ReturnType<typeof materialise> {
  const compact = compactWith(new Interner());
  return { users: objects.users.map((u) => compact(u)), groups: objects.groups.map((g) => compact(g)) };
}

function inChild(users: number, groups: number, runs: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', `${users}:${groups}`, String(runs), ...passedOn]);
    child.once('message', (m) => resolve(m as Result));
    child.once('exit', (code) => code !== 0 && reject(new Error(`benchmark of ${users}/${groups} exited with ${code}`)));
  });
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

function fmt(seconds: number[]): string {
  const sorted = [...seconds].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)].toFixed(3);
}
