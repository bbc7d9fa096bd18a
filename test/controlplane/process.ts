// Child processes of the test control plane: output to a log file, and no orphans. On Linux each
// child is started through `setpriv --pdeathsig` so the kernel stops it even when this process is
// killed outright; everywhere, an exit hook stops whatever is still running.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';

export interface Supervised {
  name: string;
  pid: number;
  logPath: string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<string>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of the log, for error messages. */
  tail(lines?: number): string;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

const pdeathsig = process.platform === 'linux' && existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;

export function startProcess(name: string, binary: string, args: string[], logPath: string): Supervised {
  installExitHook();
  const log = openSync(logPath, 'a');
  const [command, argv] = pdeathsig ? [pdeathsig, ['--pdeathsig', 'SIGKILL', '--', binary, ...args]] : [binary, args];
  const child = spawn(command, argv, { stdio: ['ignore', log, log] });
  closeSync(log);
  running.add(child);

  let exitedWith: string | undefined;
  const exited = new Promise<string>((resolve) => {
    const done = (how: string): void => {
      if (exitedWith !== undefined) return;
      exitedWith = how;
      running.delete(child);
      resolve(how);
    };
    child.on('exit', (code, signal) => done(signal ? `signal ${signal}` : `code ${code}`));
    child.on('error', (err) => done(`spawn error: ${err.message}`));
  });

  const tail = (lines = 30): string => {
    try {
      return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  };

  return {
    name,
    pid: child.pid ?? -1,
    logPath,
    exited,
    hasExited: () => exitedWith !== undefined,
    tail,
    async stop(graceMs = 5000) {
      if (exitedWith !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
