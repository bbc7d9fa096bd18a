// `idpsync access`: who can reach what, read from the cluster. Parsing, reading and printing only;
// the answer comes from src/access.
import { parseArgs } from 'node:util';
import { UsageError, parseOrExplain, type Output } from './args.js';
import { KubeConfig } from '@kubernetes/client-node';
import type { Group, Policy, User } from '../api/v1alpha1/objects.js';
import { PROTOCOLS } from '../api/v1alpha1/policy.js';
import { KubeClient } from '../kube/client.js';
import { addressKind } from '../access/address.js';
import { accessOfUser, findUsers, whoCanReach, type ReachQuery } from '../access/resolve.js';
import { formatReach, formatUserAccess } from '../access/format.js';

export type AccessRequest = {
  namespace?: string;
  kubeconfig?: string;
  output: 'table' | 'json';
} & ({ user: string } | { reach: ReachQuery });

export type { Output } from './args.js';

export function parseAccessArgs(args: string[]): AccessRequest {
  const { values, positionals } = parseOrExplain(() =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        kubeconfig: { type: 'string' },
        output: { type: 'string', short: 'o', default: 'table' },
        resource: { type: 'string' },
        port: { type: 'string' },
        protocol: { type: 'string' },
      },
    }),
  );
  const output = values.output;
  if (output !== 'table' && output !== 'json') throw new UsageError(`-o must be table or json, not ${output}`);
  const common = { namespace: values.namespace, kubeconfig: values.kubeconfig, output } as const;

  if (values.resource === undefined) {
    if (positionals.length !== 1) throw new UsageError('needs one USER (object name, login or email), or --resource ADDRESS');
    if (values.port !== undefined || values.protocol !== undefined) throw new UsageError('--port and --protocol go with --resource');
    return { ...common, user: positionals[0] };
  }
  if (positionals.length > 0) throw new UsageError('give either a USER or --resource, not both');
  if (!addressKind(values.resource)) throw new UsageError(`--resource ${values.resource} is not an IP address, CIDR or DNS name`);
  const reach: ReachQuery = { address: values.resource };
  if (values.protocol !== undefined) {
    const protocol = values.protocol.toUpperCase();
    if (!(PROTOCOLS as readonly string[]).includes(protocol)) throw new UsageError(`--protocol must be one of ${PROTOCOLS.join(', ')}`);
    reach.protocol = protocol;
  }
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^[0-9]{1,5}$/.test(values.port) || port < 1 || port > 65535) throw new UsageError('--port must be a number from 1 to 65535');
    if (reach.protocol === 'ICMP') throw new UsageError('--port cannot be combined with --protocol ICMP');
    reach.port = port;
  }
  return { ...common, reach };
}

/** Runs `idpsync access`; returns the exit code. */
export async function runAccess(args: string[], io: Output = { out: console.log, err: console.error }): Promise<number> {
  const request = parseAccessArgs(args);
  const kubeConfig = new KubeConfig();
  if (request.kubeconfig) kubeConfig.loadFromFile(request.kubeconfig);
  else kubeConfig.loadFromDefault();
  const namespace = request.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
  const kube = new KubeClient(kubeConfig);
  const [users, groups, policies] = await Promise.all([
    kube.list<User>('User', namespace),
    kube.list<Group>('Group', namespace),
    kube.list<Policy>('Policy', namespace),
  ]);

  if ('reach' in request) {
    const reach = whoCanReach(request.reach, users, groups, policies);
    io.out(request.output === 'json' ? JSON.stringify(reach, null, 2) : formatReach(request.reach, reach));
    return 0;
  }
  const matches = findUsers(users, request.user);
  if (matches.length === 0) {
    io.err(`idpsync: no User named ${request.user}, and none with that login or email, in namespace ${namespace}`);
    return 1;
  }
  const access = matches.map((u) => accessOfUser(u, groups, policies));
  if (request.output === 'json') io.out(JSON.stringify(access, null, 2));
  else io.out(access.map((a) => formatUserAccess(a, { showDirectory: matches.length > 1 })).join('\n\n'));
  return 0;
}
