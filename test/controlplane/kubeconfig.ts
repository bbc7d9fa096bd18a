import { stringify } from 'yaml';

export interface KubeconfigParams {
  /** Names the cluster, user and context. */
  name: string;
  server: string;
  /** PEM of the CA that signed the server's certificate. */
  caPem: string;
  token: string;
  namespace?: string;
}

/** A self-contained kubeconfig (CA inline, bearer token), verifying the server's certificate. */
export function kubeconfigYaml(p: KubeconfigParams): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: p.name, cluster: { server: p.server, 'certificate-authority-data': Buffer.from(p.caPem).toString('base64') } },
    ],
    users: [{ name: p.name, user: { token: p.token } }],
    contexts: [{ name: p.name, context: { cluster: p.name, user: p.name, ...(p.namespace ? { namespace: p.namespace } : {}) } }],
    'current-context': p.name,
    preferences: {},
  });
}
