// Finding (and on first use, building) the control-plane binaries. build.sh is silent for the
// minutes a cold build takes, so its output is passed on as it comes and a line every few seconds
// says the build is still running; a failed build ends with its last lines and what to run.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD_SCRIPT = join(repoRoot, 'test/controlplane/build.sh');

export interface BuildOptions {
  /** Receives each progress line (default: written to stderr). */
  onProgress?: (line: string) => void;
  /** How often to say the build is still running (default 15 s). */
  progressIntervalMs?: number;
  /** The command that prints the bin directory on its last stdout line (default: bash build.sh). */
  command?: { file: string; args: string[] };
}

/** "42 s", "3 min 05 s". */
export function formatElapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

/**
 * The directory holding the control-plane binaries: `explicit`, else $IDPSYNC_CONTROLPLANE_BIN_DIR,
 * else what build.sh prints (it builds only when its cache does not have them yet).
 */
export async function resolveBinDir(explicit?: string, opts: BuildOptions = {}): Promise<string> {
  const dir = explicit ?? process.env.IDPSYNC_CONTROLPLANE_BIN_DIR;
  if (dir) return dir;
  return runBuild(opts);
}

async function runBuild(opts: BuildOptions): Promise<string> {
  const report = opts.onProgress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const command = opts.command ?? { file: 'bash', args: [BUILD_SCRIPT] };
  const shown = [command.file, ...command.args].join(' ');
  const started = Date.now();
  const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'] });

  let stdout = '';
  const stderrLines: string[] = [];
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      stderrLines.push(line);
      report(line);
    }
  });

  const ticker = setInterval(() => {
    report(
      `still building the control plane (${CONTROL_PLANE_BINARIES.join(', ')}) from Go modules: ` +
        `${formatElapsed(Date.now() - started)} elapsed; only the first run does this`,
    );
  }, opts.progressIntervalMs ?? 15_000);

  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((done) => {
    child.once('error', (spawnError) => done({ code: null, signal: null, spawnError }));
    child.once('close', (code, signal) => done({ code, signal }));
  }).finally(() => clearInterval(ticker));
  if (partial) {
    stderrLines.push(partial);
    report(partial);
  }

  const elapsed = formatElapsed(Date.now() - started);
  if (outcome.spawnError) throw new Error(`could not run the control-plane build (${shown}): ${outcome.spawnError.message}`);
  if (outcome.code !== 0) {
    const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.code}`;
    const tail = stderrLines.filter((l) => l.trim()).slice(-20);
    throw new Error(
      `the control-plane build failed: ${shown} ${how} after ${elapsed}` +
        (tail.length ? `; its last output:\n  ${tail.join('\n  ')}` : ' without any output') +
        `\nIt needs Go (see docs/development/control-plane.md); run it by hand to see everything: bash ${BUILD_SCRIPT}`,
    );
  }
  const binDir = stdout.trim().split('\n').pop()?.trim();
  if (!binDir) throw new Error(`the control-plane build (${shown}) succeeded but printed no bin directory`);
  return binDir;
}
