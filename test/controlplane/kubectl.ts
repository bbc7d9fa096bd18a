import { spawn } from 'node:child_process';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  kubeconfig: string;
  /** Written to kubectl's standard input (for `-f -`). */
  input?: string;
  timeoutMs?: number;
}

/** Runs the control plane's own kubectl. Never throws for a non-zero exit: the caller judges the result. */
export function runKubectl(kubectlPath: string, args: string[], opts: KubectlOptions): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlPath, args, {
      env: { ...process.env, KUBECONFIG: opts.kubeconfig },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}(killed by ${signal})` : stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Like runKubectl, but a non-zero exit is an error carrying kubectl's own message. */
export async function kubectlOrThrow(kubectlPath: string, args: string[], opts: KubectlOptions): Promise<string> {
  const result = await runKubectl(kubectlPath, args, opts);
  if (result.code !== 0) {
    throw new Error(`kubectl ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result.stdout;
}
