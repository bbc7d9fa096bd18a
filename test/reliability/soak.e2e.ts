// Soak: `idpsync run` against a directory that keeps changing (people added, suspended, moved),
// with periodic faults (IdP 5xx and 429 bursts, its watches cut), for RELIABILITY_SOAK_SECONDS
// (long form one hour, short form 60 s). Resident memory, open file handles (/proc/<pid>/fd) and
// event-loop lag are sampled from the process and its default metrics; at the end each must be
// flat, and what was written must match the directory.
import { readdirSync } from 'node:fs';
import { expect } from 'chai';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { generateFixture } from '../emulators/fixture.js';
import { countingKubeConfig, newNamespace, operatorKubeConfig, type CountingClient } from '../e2e/harness/index.js';
import { createDirectory, syncNow } from '../e2e/support/operator.js';
import { metricValue, runOperator, type OperatorProcess } from './support/operator-process.js';
import { integrityProblems, written } from './support/objects.js';
import { getDirectory } from '../e2e/support/operator.js';
import { pick, seedFromEnv, seededRandom } from './support/random.js';
import { envNumber, isShort, report } from './support/report.js';

const FILE = 'soak.e2e.ts';

interface Sample {
  at: number;
  rssMb: number;
  fds: number;
  lagMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

describe('soak: a changing directory with periodic faults', function () {
  const seconds = envNumber('RELIABILITY_SOAK_SECONDS', 3600, 60);
  this.timeout((seconds + 240) * 1000);
  const seed = seedFromEnv('soak');
  const random = seededRandom(seed);
  const idp = new GoogleWorkspaceEmulator(generateFixture(200, 20));
  let op: OperatorProcess;
  let wire: CountingClient;
  let ns: string;

  before(async () => {
    ns = await newNamespace('soak');
    await idp.start();
    await createDirectory(ns, 'corp', idp.connection(), { interval: '1m' });
    wire = await countingKubeConfig(await operatorKubeConfig());
    op = await runOperator({ kubeconfig: wire.kubeconfigPath, namespace: ns });
  });

  after(async () => {
    await op?.kill('SIGKILL');
    await wire?.close();
    await idp.stop();
  });

  it(`stays flat in memory, file handles and event-loop lag, and converges (${isShort() ? 'short' : 'long'} form)`, async () => {
    await syncNow(ns, 'corp', 120_000);
    const samples: Sample[] = [];
    const faults = { idp5xx: 0, idp429: 0, watchesCut: 0, changes: 0, syncs: 0 };
    const sample = async () => {
      const text = await op.metrics();
      samples.push({
        at: Date.now(),
        rssMb: (metricValue(text, 'process_resident_memory_bytes') ?? 0) / 2 ** 20,
        fds: readdirSync(`/proc/${op.pid}/fd`).length,
        lagMs: (metricValue(text, 'nodejs_eventloop_lag_p99_seconds') ?? metricValue(text, 'nodejs_eventloop_lag_seconds') ?? 0) * 1000,
      });
    };
    const end = Date.now() + seconds * 1000;
    let step = 0;
    while (Date.now() < end) {
      step++;
      const d = idp.directory;
      const person = pick(random, d.users);
      const roll = random();
      if (roll < 0.3) person.state = person.state === 'active' ? 'suspended' : 'active';
      else if (roll < 0.6) {
        const id = `u-soak-${step}`;
        d.users.push({ id, login: `soak${step}@example.com`, email: `soak${step}@example.com`, firstName: 'Soak', lastName: String(step), state: 'active' });
        pick(random, d.groups).members!.push(id);
      } else {
        const g = pick(random, d.groups);
        g.members = g.members!.filter((m) => m !== person.id);
        pick(random, d.groups).members!.push(person.id);
      }
      faults.changes++;
      if (step % 5 === 0) {
        idp.faults.serverErrorNext = 2;
        faults.idp5xx += 2;
      }
      if (step % 7 === 0) {
        idp.faults.rateLimitNext = 2;
        faults.idp429 += 2;
      }
      if (step % 4 === 0) faults.watchesCut += wire.killWatches({ abrupt: step % 8 === 0 });
      await syncNow(ns, 'corp', 120_000).then(() => faults.syncs++, () => undefined);
      await sample();
      await new Promise((r) => setTimeout(r, 2000));
    }

    // Faults off: the next sync converges on the directory as it now is.
    idp.faults = {};
    await syncNow(ns, 'corp', 120_000);
    const w = await written(ns);
    const active = idp.directory.users.filter((u) => u.state === 'active').map((u) => u.login).sort();
    const writtenActive = w.users.filter((u) => u.spec.state === 'Active').map((u) => u.spec.login).sort();
    const problems = integrityProblems(w, await getDirectory(ns, 'corp'));

    const third = Math.max(1, Math.floor(samples.length / 3));
    const first = samples.slice(0, third);
    const last = samples.slice(-third);
    const growth = (pickValue: (s: Sample) => number) => median(last.map(pickValue)) - median(first.map(pickValue));
    report(`soak (${seconds} s)`, {
      seed,
      'directory changes': faults.changes,
      'syncs requested and handled': faults.syncs,
      'IdP 5xx injected': faults.idp5xx,
      'IdP 429 injected': faults.idp429,
      'watches cut': faults.watchesCut,
      'RSS MB first→last third (median)': `${median(first.map((s) => s.rssMb)).toFixed(0)}→${median(last.map((s) => s.rssMb)).toFixed(0)}`,
      'open fds first→last third (median)': `${median(first.map((s) => s.fds))}→${median(last.map((s) => s.fds))}`,
      'event-loop lag p99 ms, max': Math.max(...samples.map((s) => s.lagMs)),
      'active people missing or extra': active.length === writtenActive.length && active.every((l, i) => l === writtenActive[i]) ? 0 : Math.abs(active.length - writtenActive.length) || 1,
      'integrity problems': problems.length,
      'operator restarts': op.alive() ? 0 : 1,
    }, FILE);
    expect(op.alive()).to.equal(true);
    expect(problems).to.deep.equal([]);
    expect(writtenActive, 'active Users equal the directory\'s active people').to.deep.equal(active);
    // Flat: a leak shows as steady growth; allow for warm-up and GC timing on a shared machine.
    expect(growth((s) => s.fds), 'growth of open file handles').to.be.at.most(10);
    expect(growth((s) => s.rssMb), 'growth of resident memory, MB').to.be.at.most(isShort() ? 60 : 40);
  });
});
