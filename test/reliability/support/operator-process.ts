// `idpsync run` as its own process (as a Deployment runs it), for tests that kill it, count its
// file handles or read its metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../controlplane/net.js';

const CLI = new URL('../../../src/cli/main.ts', import.meta.url).pathname;

export interface OperatorProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  exited: Promise<void>;
  alive(): boolean;
  output(): string;
  metrics(): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface OperatorProcessOptions {
  kubeconfig: string;
  namespace: string;
  leaderElect?: boolean;
  leaderElectionNamespace?: string;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

export async function runOperator(opts: OperatorProcessOptions): Promise<OperatorProcess> {
  const port = await freePort();
  const args = ['--import', 'tsx', CLI, 'run', '--kubeconfig', opts.kubeconfig, '--namespace', opts.namespace, '--metrics-bind-address', `127.0.0.1:${port}`];
  if (opts.leaderElect) args.push('--leader-elect', '--leader-election-namespace', opts.leaderElectionNamespace ?? 'idpsync-system');
  args.push(...(opts.extraArgs ?? []));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid: child.pid!,
    port,
    exited,
    alive,
    output: () => output,
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    kill: async (signal = 'SIGTERM') => {
      if (alive()) child.kill(signal);
      await exited;
    },
  };
}

/** The value of one sample line of Prometheus text, e.g. metricValue(text, 'process_open_fds'). */
export function metricValue(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : undefined;
}
