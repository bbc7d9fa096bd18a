#!/usr/bin/env node
// The idpsync command: `run` (the operator), `render` (preview without a cluster), `access` (who reaches what), `version`.
import { parseArgs } from 'node:util';
import { readRenderInput, render, planToTable, planToYaml } from './render.js';
import { describeError } from '../errors.js';

const USAGE = `Usage:
  idpsync run [--kubeconfig FILE] [--namespace NS] [--metrics-bind-address HOST:PORT] [--scim-bind-address HOST:PORT]
              [--leader-elect] [--leader-election-namespace NS] [--workers N] [--log-level LEVEL]
      Runs the operator. Uses KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount.
  idpsync render -f FILE [-f FILE ...] [-o yaml|table] [--verify]
      Reads a DirectorySync and its Secret, talks to the IdP, and prints the Users and Groups
      the operator would write. No cluster needed.
  idpsync access USER [-n NAMESPACE] [--kubeconfig FILE] [-o table|json]
      What a User (object name, login or email) can reach, and through which Policies.
  idpsync access --resource ADDRESS [--port N] [--protocol TCP|UDP|ICMP] [-n NAMESPACE]
                 [--kubeconfig FILE] [-o table|json]
      Who can reach an IP, CIDR or DNS name, and through which Policies.
  idpsync version
`;

export const VERSION = '0.1.0';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      const { values } = parseArgs({
        args: rest,
        options: {
          kubeconfig: { type: 'string' },
          namespace: { type: 'string' },
          'metrics-bind-address': { type: 'string', default: '0.0.0.0:8080' },
          'scim-bind-address': { type: 'string' },
          'leader-elect': { type: 'boolean', default: false },
          'leader-election-namespace': { type: 'string' },
          workers: { type: 'string', default: '2' },
          'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
        },
      });
      const { runOperator } = await import('../controllers/manager.js');
      await runOperator({
        kubeconfig: values.kubeconfig,
        namespace: values.namespace,
        metricsAddress: values['metrics-bind-address']!,
        scimAddress: values['scim-bind-address'],
        leaderElect: values['leader-elect']!,
        leaderElectionNamespace: values['leader-election-namespace'],
        workers: Number(values.workers),
        logLevel: values['log-level']!,
      });
      return 0;
    }
    case 'render': {
      const { values } = parseArgs({
        args: rest,
        options: { file: { type: 'string', short: 'f', multiple: true }, output: { type: 'string', short: 'o', default: 'yaml' }, verify: { type: 'boolean', default: false } },
      });
      if (!values.file?.length) throw new Error('render needs at least one -f FILE');
      const input = readRenderInput(values.file);
      const result = await render(input, { verify: values.verify });
      if (result.verify) {
        for (const c of result.verify.checks) console.error(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ok ? '' : `: ${c.missing ? `missing ${c.missing}` : (c.message ?? '')}`}`);
      }
      console.log(values.output === 'table' ? planToTable(result.plan) : planToYaml(input.directorySync, result.plan));
      console.error(`# ${result.apiCalls} IdP API call(s)`);
      return 0;
    }
    case 'access': {
      const { runAccess } = await import('./access.js');
      return runAccess(rest);
    }
    case 'version':
      console.log(VERSION);
      return 0;
    default:
      console.error(USAGE);
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (err) => {
    console.error(`idpsync: ${describeError(err)}`);
    process.exit(1);
  },
);
