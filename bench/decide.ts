// decide() alone on generated directories: a first sync (nothing exists yet) and a no-op resync (what
// the first sync wrote exists), median of a few runs, and the peak resident memory of the process that
// ran that size. Each size runs in its own process so one size's garbage does not weigh on the next.
// Run: npm run bench [-- --quick] [-- --runs 5] [-- --parsed] [-- --compiled] [-- --heap-cap 384]
// --parsed: the snapshot goes through JSON first and its members are narrowed to the users as the
// drivers do it (KnownPeople), so it holds the strings a driver's snapshot holds; and the resync's
// existing objects go through JSON, as they arrive from the apiserver, and then into the form the
// operator's cache keeps them in (compactWith: repeated strings shared). Nothing is shared with the
// first plan that the operator would not share.
// --compiled: decide() as `npm run build` compiled it (dist/), as the image runs it, instead of through
// the tsx loader (which wraps every function it names).
// --heap-cap MiB: each size runs under Node's --max-old-space-size, as the chart runs the operator
// (maxHeapMiB, 384 by default). With --parsed, nothing the bench makes for itself outgrows that: the
// generated directory is gone before its JSON is read back, and objects go through JSON one at a time.
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
const heapCapAt = args.indexOf('--heap-cap');
const heapCapMiB = heapCapAt >= 0 ? Number(args[heapCapAt + 1]) : undefined;
if (heapCapMiB !== undefined && !(heapCapMiB > 0)) throw new Error('--heap-cap takes a size in MiB, e.g. --heap-cap 384');
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
  console.log(
    `decide() benchmark — node ${process.version}, median of timed runs after one untimed first sync${args.includes('--parsed') ? '; resync from parsed objects' : ''}${args.includes('--compiled') ? '; compiled' : ''}${heapCapMiB ? `; heap ceiling ${heapCapMiB} MiB` : ''}`,
  );
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
  const snapshot = parsed ? asDriversGiveIt(JSON.stringify(generateDirectory({ users, groups, seed: 42 }))) : generateDirectory({ users, groups, seed: 42 });
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
  const firstWrites = first.users.length + first.groups.length;
  const existing = parsed ? asCached(materialise([], [], first)) : materialise([], [], first);
  first = undefined as unknown as typeof first;
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
    firstWrites,
    resyncWrites: again.users.length + again.groups.length,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

/** A snapshot as read from an IdP's JSON, each group's members as the users' own id strings. */
function asDriversGiveIt(json: string): DirectorySnapshot {
  const read = JSON.parse(json) as DirectorySnapshot;
  const people = new KnownPeople(read.users.map((u) => u.id));
  for (const g of read.groups) g.memberUserIds = people.members(g.memberUserIds);
  return read;
}

/**
 * Objects as the operator's cache holds them: each read from its JSON as a watch event brings it, and
 * compacted with one interner for Users and Groups, as there.
 */
function asCached(objects: ReturnType<typeof materialise>): ReturnType<typeof materialise> {
  const compact = compactWith(new Interner());
  const read = <T>(object: T): T => compact(JSON.parse(JSON.stringify(object)) as T);
  return { users: objects.users.map(read), groups: objects.groups.map(read) };
}

function inChild(users: number, groups: number, runs: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const execArgv = heapCapMiB ? [...process.execArgv, `--max-old-space-size=${heapCapMiB}`] : process.execArgv;
    const child = fork(fileURLToPath(import.meta.url), ['--child', `${users}:${groups}`, String(runs), ...passedOn], { execArgv });
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
