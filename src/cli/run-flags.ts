// `idpsync run` flags, checked before anything starts: a typo must stop the operator with a message
// naming the flag, not start it with no workers or with every log line filtered out.
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import winston from 'winston';
import { DEFAULT_SCIM_LIMITS } from '../scim/limits.js';
import { UsageError, parseOrExplain } from './args.js';
import { parseDuration } from '../util/duration.js';

/** The levels the operator's logger knows (winston's npm levels), most severe first. */
export const LOG_LEVELS: readonly string[] = Object.keys(winston.config.npm.levels);

export interface RunFlags {
  kubeconfig?: string;
  namespace?: string;
  metricsAddress: string;
  /** Where the SCIM 2.0 server listens; no SCIM server when absent. */
  scimAddress?: string;
  scimTls?: { certFile: string; keyFile: string };
  /** Requests per second (sustained, and burst) each SCIM directory token may send to one replica. */
  scimLimits?: { ratePerSecond: number; burst: number };
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  workers: number;
  logLevel: string;
  /** How long one sync's read of the IdP may take before it fails (nothing is changed then). */
  fetchTimeoutMs: number;
}

export function parseRunArgs(args: string[], env: NodeJS.ProcessEnv = process.env): RunFlags {
  const { values } = parseOrExplain(() =>
    parseArgs({
      args,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'metrics-bind-address': { type: 'string', default: '0.0.0.0:8080' },
        'scim-bind-address': { type: 'string' },
        'scim-tls-cert-file': { type: 'string' },
        'scim-tls-key-file': { type: 'string' },
        'scim-insecure-http': { type: 'boolean', default: false },
        'scim-rate-limit': { type: 'string' },
        'scim-rate-burst': { type: 'string' },
        'leader-elect': { type: 'boolean', default: false },
        'leader-election-namespace': { type: 'string' },
        workers: { type: 'string', default: '2' },
        'idp-read-timeout': { type: 'string', default: '10m' },
        'log-level': { type: 'string' },
      },
    }),
  );
  if (values.kubeconfig !== undefined && !existsSync(values.kubeconfig)) throw new UsageError(`--kubeconfig ${values.kubeconfig}: no such file`);
  // Runtime components log at LOG_LEVEL whatever --log-level says, so a bad one is refused either way.
  if (env.LOG_LEVEL !== undefined) logLevelFlag('LOG_LEVEL (from the environment)', env.LOG_LEVEL);
  return {
    kubeconfig: values.kubeconfig,
    namespace: namespaceFlag('--namespace', values.namespace),
    metricsAddress: hostPortFlag('--metrics-bind-address', values['metrics-bind-address']),
    ...scimFlags(values['scim-bind-address'], values['scim-tls-cert-file'], values['scim-tls-key-file'], values['scim-insecure-http']),
    ...scimRateFlags(values['scim-bind-address'] !== undefined, values['scim-rate-limit'], values['scim-rate-burst']),
    leaderElect: values['leader-elect'],
    leaderElectionNamespace: namespaceFlag('--leader-election-namespace', values['leader-election-namespace']),
    workers: positiveIntegerFlag('--workers', values.workers),
    fetchTimeoutMs: durationFlag('--idp-read-timeout', values['idp-read-timeout']),
    logLevel: values['log-level'] !== undefined ? logLevelFlag('--log-level', values['log-level']) : (env.LOG_LEVEL ?? 'info'),
  };
}

/** SCIM carries bearer tokens and people's data: HTTPS unless plain HTTP is asked for by name. */
export function scimFlags(address: string | undefined, certFile: string | undefined, keyFile: string | undefined, insecureHttp: boolean): Pick<RunFlags, 'scimAddress' | 'scimTls'> {
  if (address === undefined) {
    if (certFile !== undefined || keyFile !== undefined || insecureHttp) throw new UsageError('--scim-tls-cert-file, --scim-tls-key-file and --scim-insecure-http need --scim-bind-address');
    return {};
  }
  const scimAddress = hostPortFlag('--scim-bind-address', address);
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--scim-tls-cert-file and --scim-tls-key-file go together');
  if (certFile !== undefined && keyFile !== undefined) {
    for (const [flag, file] of [['--scim-tls-cert-file', certFile], ['--scim-tls-key-file', keyFile]]) {
      if (!existsSync(file)) throw new UsageError(`${flag} ${file}: no such file`);
    }
    if (insecureHttp) throw new UsageError('--scim-insecure-http cannot be combined with --scim-tls-cert-file');
    return { scimAddress, scimTls: { certFile, keyFile } };
  }
  if (!insecureHttp) {
    throw new UsageError('--scim-bind-address needs --scim-tls-cert-file and --scim-tls-key-file (SCIM carries bearer tokens), or --scim-insecure-http behind a TLS-terminating proxy');
  }
  return { scimAddress };
}

/** --scim-rate-limit 0 turns the limit off; the burst defaults to twice the rate. */
export function scimRateFlags(serving: boolean, rate: string | undefined, burst: string | undefined): Pick<RunFlags, 'scimLimits'> {
  if (rate === undefined && burst === undefined) return {};
  if (!serving) throw new UsageError('--scim-rate-limit and --scim-rate-burst need --scim-bind-address');
  const ratePerSecond = rate === undefined ? DEFAULT_SCIM_LIMITS.ratePerSecond : wholeNumberFlag('--scim-rate-limit', rate);
  const burstSize = burst === undefined ? Math.max(1, 2 * ratePerSecond) : positiveIntegerFlag('--scim-rate-burst', burst);
  return { scimLimits: { ratePerSecond, burst: burstSize } };
}

function wholeNumberFlag(flag: string, value: string): number {
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`${flag} must be a whole number (0 for no limit), not "${value}"`);
  return Number(value);
}

/** A duration such as 90s, 10m or 1h30m, of at least a second. */
export function durationFlag(flag: string, value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    throw new UsageError(`${flag} must be a duration such as 90s, 10m or 1h30m, not "${value}"`);
  }
  if (ms < 1000) throw new UsageError(`${flag} must be at least 1s, not "${value}"`);
  return ms;
}

export function positiveIntegerFlag(flag: string, value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${flag} must be a whole number of at least 1, not "${value}"`);
  }
  return Number(value);
}

export function logLevelFlag(flag: string, value: string): string {
  if (!LOG_LEVELS.includes(value)) throw new UsageError(`${flag} must be one of ${LOG_LEVELS.join(', ')}; not "${value}"`);
  return value;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/i;

/** HOST:PORT where HOST is empty (all interfaces), an IPv4 address or a host name, and PORT 0-65535. */
export function hostPortFlag(flag: string, value: string): string {
  const match = /^([^:]*):([0-9]{1,5})$/.exec(value);
  const host = match?.[1];
  const valid = match && Number(match[2]) <= 65535 && (host === '' || isIP(host!) === 4 || HOSTNAME.test(host!));
  if (!valid) throw new UsageError(`${flag} must be HOST:PORT with an IPv4 address or host name and a port from 0 to 65535 (e.g. 0.0.0.0:8080 or :8080), not "${value}"`);
  return value;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function namespaceFlag(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && !NAMESPACE.test(value)) {
    throw new UsageError(`${flag} must be a namespace name (lower-case letters, digits and '-', at most 63), not "${value}"`);
  }
  return value;
}
