// The operator's container image, run with buildah: `idpsync version`, then the operator from the
// image (its own entrypoint, user and environment) against the test control plane until a
// DirectorySync is Ready, a clean exit on SIGTERM, and no file written outside /tmp.
// Runs when IDPSYNC_IMAGE names a local image (scripts/test-image.sh sets it); skipped otherwise.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { OktaEmulator } from '../emulators/okta/emulator.js';
import { loadFixture } from '../emulators/fixture.js';
import { newNamespace, operatorKubeconfigPath, waitFor } from './harness/index.js';
import { createDirectory, users, waitForCondition } from './support/operator.js';
import { freePort } from '../controlplane/net.js';

const IMAGE = process.env.IDPSYNC_IMAGE;
const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;
const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const KUBECONFIG_IN_IMAGE = '/etc/idpsync/kubeconfig';
const run = promisify(execFile);

interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Labels?: Record<string, string>;
}

function buildahArgs(...args: string[]): string[] {
  const driver = process.env.STORAGE_DRIVER;
  return driver ? ['--storage-driver', driver, ...args] : args;
}

async function buildah(...args: string[]): Promise<string> {
  const { stdout } = await run('buildah', buildahArgs(...args), { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** Every process below pid, with its command name, from /proc. */
function descendants(pid: number): { pid: number; comm: string }[] {
  const parentOf = new Map<number, { ppid: number; comm: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), { ppid, comm });
    } catch {
      // the process ended while we looked
    }
  }
  const found: { pid: number; comm: string }[] = [];
  const below = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [child, { ppid, comm }] of parentOf) {
      if (below.has(ppid) && !below.has(child)) {
        below.add(child);
        found.push({ pid: child, comm });
        grew = true;
      }
    }
  }
  return found;
}


(IMAGE ? describe : describe.skip)(`the container image ${IMAGE ?? '(set IDPSYNC_IMAGE)'}`, function () {
  let container: string;
  let config: ImageConfig;
  let scratch: string;

  before(async () => {
    config = (JSON.parse(await buildah('inspect', '--type', 'image', IMAGE!)) as { OCIv1: { config: ImageConfig } }).OCIv1.config;
    container = await buildah('from', '--pull=never', '--name', `idpsync-e2e-${process.pid}`, IMAGE!);
    scratch = mkdtempSync(join(tmpdir(), 'idpsync-image-'));
  });

  after(async () => {
    if (container) await buildah('rm', container);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** The image's entrypoint with these arguments, as its configured user, sharing the host's network. */
  function runInImage(args: string[], volumes: string[] = []): ChildProcess {
    const command = [...(config.Entrypoint ?? []), ...args];
    const mounts = volumes.flatMap((v) => ['--volume', v]);
    // Chroot isolation has no PID namespace, so tini is not PID 1 here; as a subreaper it still reaps.
    const env = ['--env', 'TINI_SUBREAPER=1'];
    return spawn('buildah', buildahArgs('run', '--isolation', 'chroot', '--network', 'host', ...env, ...mounts, container, '--', ...command), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  async function runToEnd(args: string[], volumes: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = runInImage(args, volumes);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, stdout, stderr };
  }

  it('runs as a non-root user under tini, with its version in the labels', () => {
    expect(config.User).to.equal('65532:65532');
    expect(config.Entrypoint?.slice(0, 2)).to.deep.equal(['tini', '--']);
    expect(config.Cmd).to.deep.equal(['run']);
    expect(config.Labels?.['org.opencontainers.image.version']).to.equal(PACKAGE.version);
  });

  it('prints its version', async () => {
    const { code, stdout, stderr } = await runToEnd(['version']);
    expect(code, stderr).to.equal(0);
    console.log(`      idpsync version (from the image): ${stdout.trim()}`);
    expect(stdout.trim()).to.equal(PACKAGE.version);
  });

  describe('the operator from the image', function () {
    let child: ChildProcess;
    let output = '';
    let ns: string;
    let port: number;
    let marker: string;
    let volumes: string[];
    const okta = new OktaEmulator(loadFixture(SEED));

    before(async () => {
      ns = await newNamespace('image');
      await okta.start();
      port = await freePort();
      // The operator runs as 65532, so it gets a readable copy of the ServiceAccount kubeconfig.
      const kubeconfig = join(scratch, 'kubeconfig');
      copyFileSync(await operatorKubeconfigPath(), kubeconfig);
      chmodSync(kubeconfig, 0o644);
      chmodSync(scratch, 0o755);
      volumes = [`${kubeconfig}:${KUBECONFIG_IN_IMAGE}:ro`];
      // buildah creates the volume's mount point in the container on first use: not the operator's doing.
      expect((await runToEnd(['version'], volumes)).code).to.equal(0);
      marker = join(scratch, 'before-run');
      writeFileSync(marker, '');
    });

    after(async () => {
      if (child && child.exitCode === null) {
        // Killing buildah alone would leave the operator running: end everything below it.
        for (const { pid } of descendants(child.pid!).reverse()) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        child.kill('SIGKILL');
      }
      await okta.stop();
    });

    it('syncs a DirectorySync until it is Ready', async () => {
      const started = Date.now();
      const args = ['run', '--kubeconfig', KUBECONFIG_IN_IMAGE, '--namespace', ns, '--metrics-bind-address', `127.0.0.1:${port}`];
      child = runInImage(args, volumes);
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

      const ready = async () => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
      await waitFor(async () => child.exitCode === null && (await ready()), { timeoutMs: 60_000, what: `/readyz from the image; output so far:\n${output}` });
      const listening = Date.now();

      await createDirectory(ns, 'corp', okta.connection());
      const applied = Date.now();
      await waitForCondition(ns, 'corp', 'Ready', 'True');
      const done = Date.now();
      console.log(
        `      operator start → /readyz ${listening - started} ms; DirectorySync applied → Ready ${done - applied} ms; ` +
          `start → Ready ${done - started} ms`,
      );
      expect(await users(ns)).to.have.length.greaterThan(0);
      const logLines = output.split('\n').filter((l) => l.startsWith('{'));
      expect(logLines.length, output).to.be.greaterThan(0);
    });

    it('exits 0 when its init, tini, gets SIGTERM (as the kubelet sends it)', async () => {
      // buildah run does not pass SIGTERM on to the container, so it goes to tini directly.
      const tini = descendants(child.pid!).find((p) => p.comm === 'tini');
      expect(tini, 'tini runs in the container').to.not.equal(undefined);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      process.kill(tini!.pid, 'SIGTERM');
      expect(await exited, output.split('\n').slice(-8).join('\n')).to.equal(0);
    });

    it('wrote nothing outside /tmp', async () => {
      const root = await buildah('mount', container);
      try {
        const { stdout } = await run('find', [root, '-xdev', '-newer', marker, '-not', '-path', `${root}/tmp`, '-not', '-path', `${root}/tmp/*`]);
        // buildah run touches /run itself on every run (its own bookkeeping files come and go there).
        const written = stdout.split('\n').filter(Boolean).map((p) => p.slice(root.length) || '/').filter((p) => p !== '/run');
        expect(written).to.deep.equal([]);
      } finally {
        await buildah('umount', container);
      }
    });
  });
});
