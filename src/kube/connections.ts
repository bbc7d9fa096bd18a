// @kubernetes/client-node 1.x builds a new https.Agent for every API call, so every call opens a new
// TCP connection and TLS handshake to the apiserver (on a busy two-core machine that tripled the time
// from a SCIM PATCH to the suspended User). This keeps one keep-alive agent per apiserver and TLS
// identity, as client-go does, so calls reuse connections.
import type * as http from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

type AgentFactory = (cluster: unknown, options: Record<string, unknown>) => http.Agent;
const REUSING = Symbol('idpsync.reusingConnections');

/** Makes `kubeConfig` hand out one keep-alive agent per server and TLS settings; idempotent. */
export function reuseConnections(kubeConfig: KubeConfig): KubeConfig {
  const target = kubeConfig as unknown as { createAgent?: AgentFactory; [REUSING]?: true };
  if (target[REUSING] || typeof target.createAgent !== 'function') return kubeConfig;
  const create = target.createAgent.bind(kubeConfig);
  const agents = new Map<string, http.Agent>();
  target.createAgent = (cluster, options) => {
    // Credentials that change (a rotated client certificate) get a new agent; a bearer token is a header.
    const { ca, cert, key, pfx, rejectUnauthorized, servername } = options;
    const id = JSON.stringify([(cluster as { server?: string } | undefined)?.server, (cluster as { proxyUrl?: string } | undefined)?.proxyUrl, ca, cert, key, pfx, rejectUnauthorized, servername].map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : v)));
    let agent = agents.get(id);
    if (!agent) {
      agent = create(cluster, { ...options, keepAlive: true });
      if (agents.size > 16) agents.clear();
      agents.set(id, agent);
    }
    return agent;
  };
  target[REUSING] = true;
  return kubeConfig;
}
