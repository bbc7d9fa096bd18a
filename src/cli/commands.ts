// The idpsync command line: one entry per verb with its own usage, `--help`/`-h` on each, and exit
// codes 0 (done), 1 (it failed) and 2 (it was called wrongly).
import { parseArgs } from 'node:util';
import { describeError } from '../errors.js';
import { consoleOutput, isUsageError, parseOrExplain, wantsHelp, type Output } from './args.js';
import { LOG_LEVELS, parseRunArgs } from './run-flags.js';
import { packageVersion } from './version.js';

interface Verb {
  summary: string;
  usage: string;
  /** Resolves to the exit code; a `run` that keeps the process serving resolves 0 once started. */
  run(args: string[], io: Output): Promise<number>;
}

const VERBS: Record<string, Verb> = {
  run: {
    summary: 'run the operator',
    usage: `Usage: idpsync run [flags]

Runs the operator. Uses --kubeconfig, else KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount.

Flags:
  --kubeconfig FILE                   kubeconfig to use
  --namespace NS                      watch one namespace only (default: all namespaces)
  --metrics-bind-address HOST:PORT    /metrics, /healthz and /readyz (default 0.0.0.0:8080)
  --scim-bind-address HOST:PORT       serve SCIM 2.0 for DirectorySyncs of provider type scim (default: off)
  --scim-tls-cert-file FILE           PEM certificate for SCIM over HTTPS (reloaded when it changes)
  --scim-tls-key-file FILE            its PEM private key
  --scim-insecure-http                serve SCIM over plain HTTP (only behind a TLS-terminating proxy)
  --scim-rate-limit N                 SCIM requests/s per directory token and replica (default 50; 0: no limit)
  --scim-rate-burst N                 requests above that rate accepted at once (default: twice the rate)
  --leader-elect                      run only while holding the Lease idpsync-operator
  --leader-election-namespace NS      where that Lease is (default: $POD_NAMESPACE, else idpsync-system)
  --workers N                         syncs run at the same time, per controller (default 2)
  --idp-read-timeout DURATION         longest one sync's read of the IdP may take (default 10m)
  --log-level LEVEL                   ${LOG_LEVELS.join(', ')} (default: $LOG_LEVEL, else info)
  -h, --help                          this help`,
    async run(args) {
      const flags = parseRunArgs(args);
      const { runOperator } = await import('../controllers/manager.js');
      await runOperator(flags);
      return 0;
    },
  },
  render: {
    summary: 'print what the operator would write, or what a sync would change in a cluster',
    usage: `Usage: idpsync render -f FILE [-f FILE ...] [-o yaml|json|table] [--kubeconfig FILE] [--verify]

Reads a DirectorySync and its Secret from YAML files, talks to the IdP, and prints the Users,
Groups and Policies the operator would write. No cluster needed. With --kubeconfig, it compares
with the directory's objects in the cluster and prints only what a sync would create, change or
delete (read-only: nothing is written).

Flags:
  -f, --file FILE      YAML with the DirectorySync and the Secret it names (repeatable)
  -o, --output FORMAT  yaml (default), json or table
  --kubeconfig FILE    compare with this cluster
  --verify             check the credentials' permissions first and report each check
  -h, --help           this help`,
    async run(args, io) {
      const { runRender } = await import('./render-command.js');
      return runRender(args, io);
    },
  },
  access: {
    summary: 'who can reach what, through which Policies',
    usage: `Usage: idpsync access USER [flags]
       idpsync access --resource ADDRESS [--port N] [--protocol TCP|UDP|ICMP] [flags]

With USER (a User's object name, login or email): what that person can reach, and through which
Policies. With --resource (an IP address, CIDR or DNS name): who can reach it.

Flags:
  -n, --namespace NS   where the Users, Groups and Policies are (default: the kubeconfig's namespace)
  --kubeconfig FILE    kubeconfig to use (default: KUBECONFIG or ~/.kube/config)
  -o, --output FORMAT  table (default) or json
  --resource ADDRESS   ask about an address instead of a person
  --port N             with --resource: only this port (1-65535)
  --protocol P         with --resource: TCP, UDP or ICMP
  -h, --help           this help`,
    async run(args, io) {
      const { runAccess } = await import('./access.js');
      return runAccess(args, io);
    },
  },
  version: {
    summary: 'print the version',
    usage: `Usage: idpsync version

Prints the idpsync version.`,
    async run(args, io) {
      parseOrExplain(() => parseArgs({ args, options: {} }));
      io.out(packageVersion());
      return 0;
    },
  },
};

export function overallUsage(): string {
  const width = Math.max(...Object.keys(VERBS).map((v) => v.length));
  const lines = Object.entries(VERBS).map(([name, verb]) => `  ${name.padEnd(width)}  ${verb.summary}`);
  return `Usage: idpsync COMMAND [flags]

Commands:
${lines.join('\n')}

Run 'idpsync COMMAND --help' for a command's flags.`;
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function runCli(argv: string[], io: Output = consoleOutput): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    io.out(overallUsage());
    return 0;
  }
  if (command === 'help') {
    const verb = args[0] === undefined ? undefined : verbNamed(args[0]);
    if (args[0] !== undefined && !verb) return unknownCommand(args[0], io);
    io.out(verb ? verb.usage : overallUsage());
    return 0;
  }
  if (command === '--version') return VERBS.version.run([], io);
  const verb = verbNamed(command);
  if (!verb) return unknownCommand(command, io);
  if (wantsHelp(args)) {
    io.out(verb.usage);
    return 0;
  }
  try {
    return await verb.run(args, io);
  } catch (err) {
    if (isUsageError(err)) {
      io.err(`idpsync ${command}: ${err.message}\nRun 'idpsync ${command} --help' for usage.`);
      return 2;
    }
    io.err(`idpsync ${command}: ${describeError(err)}`);
    return 1;
  }
}

function verbNamed(name: string): Verb | undefined {
  return Object.hasOwn(VERBS, name) ? VERBS[name] : undefined;
}

function unknownCommand(command: string, io: Output): number {
  io.err(`idpsync: unknown command "${command}"\n\n${overallUsage()}`);
  return 2;
}
