// Connection reuse to the apiserver. @kubernetes/client-node 1.4 authenticates each request by building a
// new https.Agent (KubeConfig.applySecurityAuthentication), so every call opened its own TCP and TLS
// connection: about 3 ms of operator CPU and a TLS handshake on the apiserver per write. We keep
// client-node (its generated APIs, and its auth: client certificates, bearer tokens, token files
// re-read as they rotate, exec plugins) and only swap the throwaway agent it attaches to the request
// for one long-lived keep-alive agent per TLS identity, with a bounded number of sockets.
// Authorization headers are still set per request by client-node, so rotated tokens keep working;
// a rotated client certificate gets a new agent and the old one is closed once idle.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import * as k8s from '@kubernetes/client-node';

/** Sockets per agent: the apply workers (8), paged lists, events and the leader lease fit with room to spare. */
export const MAX_SOCKETS = 16;
/** Idle sockets are closed after this long, before the apiserver would drop them itself. */
const IDLE_SOCKET_MS = 30_000;
/** An agent left behind by a rotated identity is destroyed after this grace for requests still in flight. */
const RETIRED_AGENT_MS = 120_000;

type RequestContext = Parameters<k8s.KubeConfig['applySecurityAuthentication']>[0];

/** The TLS settings that decide who we are to the apiserver and whom we trust. */
const IDENTITY_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

export class KeepAliveAuthentication implements k8s.SecurityAuthentication {
  private agent: http.Agent | undefined;
  private identity = '';

  constructor(private readonly kubeConfig: k8s.KubeConfig) {}

  getName(): string {
    return 'default';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.kubeConfig.applySecurityAuthentication(context);
    // Through a proxy client-node's own agent types are needed; leave those requests as they are.
    if (this.kubeConfig.getCurrentCluster()?.proxyUrl) return;
    const fresh = context.getAgent();
    if (!(fresh instanceof http.Agent)) return;
    context.setAgent(this.agentLike(fresh));
  }

  /** Open sockets, for tests and diagnostics. */
  sockets(): number {
    const count = (m: NodeJS.ReadOnlyDict<unknown[]> | undefined) => Object.values(m ?? {}).reduce((n, list) => n + (list?.length ?? 0), 0);
    return this.agent ? count(this.agent.sockets) + count(this.agent.freeSockets) : 0;
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
    this.identity = '';
  }

  private agentLike(fresh: http.Agent): http.Agent {
    const tls = fresh instanceof https.Agent;
    const options = ((fresh as https.Agent).options ?? {}) as Record<string, unknown>;
    const identity = fingerprint(tls, options);
    if (this.agent && identity === this.identity) return this.agent;
    const retired = this.agent;
    if (retired) setTimeout(() => retired.destroy(), RETIRED_AGENT_MS).unref();
    const picked = Object.fromEntries(IDENTITY_FIELDS.filter((f) => options[f] !== undefined).map((f) => [f, options[f]]));
    const settings = { keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' as const };
    this.agent = tls ? new https.Agent({ ...picked, ...settings }) : new http.Agent(settings);
    this.identity = identity;
    return this.agent;
  }
}

function fingerprint(tls: boolean, options: Record<string, unknown>): string {
  const h = createHash('sha256').update(tls ? 'https' : 'http');
  for (const field of IDENTITY_FIELDS) {
    const value = options[field];
    h.update(`\0${field}=`);
    if (value === undefined) continue;
    for (const part of Array.isArray(value) ? value : [value]) h.update(Buffer.isBuffer(part) ? part : String(part)).update('\0');
  }
  return h.digest('hex');
}

/**
 * Like KubeConfig.makeApiClient, but every client made from one KeepAliveAuthentication shares its
 * connections. Watches (client-node's Watch) do not go through here: they hold their connection open
 * and would otherwise take sockets from the bounded pool.
 */
export function makeKeepAliveClient<T>(auth: KeepAliveAuthentication, kubeConfig: k8s.KubeConfig, api: new (config: k8s.Configuration) => T): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster!');
  return new api(k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(cluster.server, {}), authMethods: { default: auth } }));
}
