import { expect } from 'chai';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatElapsed, resolveBinDir } from '../../controlplane/binaries.js';
import { startControlPlane } from '../../controlplane/controlplane.js';

/** A stand-in for build.sh: `body` runs in bash; the bin directory goes last on stdout. */
function fakeBuild(dir: string, body: string): { file: string; args: string[] } {
  const script = join(dir, 'fake-build.sh');
  writeFileSync(script, `set -e\n${body}\n`);
  return { file: 'bash', args: [script] };
}

describe('control-plane binaries', () => {
  let dir: string;
  let savedBinDir: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'idpsync-binaries-test-'));
    savedBinDir = process.env.IDPSYNC_CONTROLPLANE_BIN_DIR;
    delete process.env.IDPSYNC_CONTROLPLANE_BIN_DIR;
  });
  afterEach(() => {
    if (savedBinDir === undefined) delete process.env.IDPSYNC_CONTROLPLANE_BIN_DIR;
    else process.env.IDPSYNC_CONTROLPLANE_BIN_DIR = savedBinDir;
    rmSync(dir, { recursive: true, force: true });
  });

  it('formats elapsed time in seconds, then minutes', () => {
    expect(formatElapsed(42_900)).to.equal('42 s');
    expect(formatElapsed(185_000)).to.equal('3 min 05 s');
  });

  it('uses the directory it is given, or the environment, without building', async () => {
    const command = fakeBuild(dir, 'echo built >&2; echo /should/not/build');
    const lines: string[] = [];
    expect(await resolveBinDir('/given', { command, onProgress: (l) => lines.push(l) })).to.equal('/given');
    process.env.IDPSYNC_CONTROLPLANE_BIN_DIR = '/from/env';
    expect(await resolveBinDir(undefined, { command, onProgress: (l) => lines.push(l) })).to.equal('/from/env');
    expect(lines).to.deep.equal([]);
  });

  it('passes the build output on while it runs and says every interval that it is still building', async () => {
    const events: string[] = [];
    const binDir = await resolveBinDir(undefined, {
      command: fakeBuild(dir, 'echo "build.sh: building Kubernetes into /x" >&2; sleep 0.7; echo "build.sh: built in 1 s" >&2; echo "/cache/bin"'),
      progressIntervalMs: 150,
      onProgress: (line) => events.push(line),
    }).finally(() => events.push('<resolved>'));
    expect(binDir).to.equal('/cache/bin');
    expect(events[0]).to.equal('build.sh: building Kubernetes into /x');
    const ticks = events.filter((l) => l.startsWith('still building the control plane'));
    expect(ticks.length).to.be.at.least(2);
    expect(ticks[0]).to.match(/\(etcd, kube-apiserver, kube-controller-manager, kubectl\) from Go modules: \d+ s elapsed/);
    expect(events.slice(-2)).to.deep.equal(['build.sh: built in 1 s', '<resolved>']);
  });

  it('fails with the exit code, the last lines of output and what to run when the build fails', async () => {
    const command = fakeBuild(dir, 'echo "build.sh: building" >&2; echo "go: k8s.io/kubernetes@v1.36.3: no space left on device" >&2; exit 3');
    const err = await resolveBinDir(undefined, { command, onProgress: () => {} }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/^the control-plane build failed: .*fake-build\.sh exited with code 3 after 0 s; its last output:/);
    expect(err?.message).to.contain('go: k8s.io/kubernetes@v1.36.3: no space left on device');
    expect(err?.message).to.match(/run it by hand to see everything: bash .*test\/controlplane\/build\.sh$/);
  });

  it('starts counting the start-up deadline only once the build is done', async function () {
    this.timeout(15_000);
    // Binaries that never become ready: start-up can only end by timing out, and the time it
    // allowed itself shows whether the build was counted against it.
    for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl']) {
      writeFileSync(join(dir, name), '#!/bin/sh\nexec sleep 30\n');
      chmodSync(join(dir, name), 0o755);
    }
    const buildMs = 2500;
    const timeoutMs = 3000;
    let builtAt = 0;
    const started = Date.now();
    const err = await startControlPlane({
      dir: join(dir, 'cluster'),
      timeoutMs,
      build: {
        command: fakeBuild(dir, `sleep ${buildMs / 1000}; echo done >&2; echo ${dir}`),
        onProgress: () => (builtAt = Date.now()),
        progressIntervalMs: 60_000,
      },
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    const failedAt = Date.now();
    expect(builtAt - started).to.be.at.least(buildMs);
    expect(err?.message).to.match(/^timed out after \d+ ms waiting for etcd \/health/);
    // Counted from the call, the budget would have run out about 1 s after the build (its minimum).
    expect(failedAt - builtAt).to.be.at.least(timeoutMs - 100);
  });
});
