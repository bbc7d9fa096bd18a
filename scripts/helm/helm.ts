// The helm command built by scripts/helm/build.sh, for the manifest generator and the chart's tests.
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const chartDir = join(repoRoot, 'helm/idpsync');

const run = promisify(execFile);

let helmPath: Promise<string> | undefined;

/** $IDPSYNC_HELM, else the cached build (built on first use; minutes on a cold Go cache). */
export function resolveHelm(): Promise<string> {
  helmPath ??= (async () => {
    if (process.env.IDPSYNC_HELM) return process.env.IDPSYNC_HELM;
    const { stdout } = await run('bash', [join(repoRoot, 'scripts/helm/build.sh')], { maxBuffer: 16 * 1024 * 1024 });
    const lines = stdout.trim().split('\n');
    return join(lines[lines.length - 1]!, 'helm');
  })();
  return helmPath;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs helm with its state (repositories, cache, plugins) kept out of the user's home. Never
 * throws for a non-zero exit: the caller judges the result.
 */
export async function runHelm(args: string[], opts: { kubeconfig?: string; timeoutMs?: number } = {}): Promise<HelmResult> {
  const helm = await resolveHelm();
  const state = join(repoRoot, '.cache/helm-state');
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(state, 'cache'),
    HELM_CONFIG_HOME: join(state, 'config'),
    HELM_DATA_HOME: join(state, 'data'),
    ...(opts.kubeconfig ? { KUBECONFIG: opts.kubeconfig } : {}),
  };
  try {
    const { stdout, stderr } = await run(helm, args, { env, maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Like runHelm, but a non-zero exit is an error carrying helm's own message. */
export async function helmOrThrow(args: string[], opts: { kubeconfig?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await runHelm(args, opts);
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

/** `helm template` of the repository's chart: release name, namespace, then any further flags. */
export function helmTemplate(release: string, namespace: string, flags: string[] = []): Promise<string> {
  return helmOrThrow(['template', release, chartDir, '--namespace', namespace, ...flags]);
}
