// Every request of one operator process carries a User-Agent naming the program, its version and
// the replica (its Lease holder identity). Both replicas share a ServiceAccount and a field manager,
// so this header is what lets the apiserver's audit log (and its request logs) tell them apart.
import type * as k8s from '@kubernetes/client-node';
import { IDPSYNC_VERSION } from '../version.js';

export function operatorUserAgent(identity: string): string {
  return `idpsync/${IDPSYNC_VERSION} (${process.platform}/${process.arch}) replica/${identity}`;
}

/** The replica identity in a User-Agent made by operatorUserAgent, or undefined for any other client. */
export function replicaOf(userAgent: string | undefined): string | undefined {
  return /^idpsync\/\S+ \([^)]*\) replica\/(\S+)$/.exec(userAgent ?? '')?.[1];
}

/**
 * Sets the User-Agent on every request made with this KubeConfig. client-node has two paths: the
 * generated API clients authenticate through applySecurityAuthentication, and Watch (so informers)
 * builds its fetch options with applyToFetchOptions; both are wrapped on this instance.
 */
export function identifyAs(kubeConfig: k8s.KubeConfig, userAgent: string): k8s.KubeConfig {
  const authenticate = kubeConfig.applySecurityAuthentication.bind(kubeConfig);
  const fetchOptions = kubeConfig.applyToFetchOptions.bind(kubeConfig);
  kubeConfig.applySecurityAuthentication = async (context) => {
    await authenticate(context);
    context.setHeaderParam('User-Agent', userAgent);
  };
  kubeConfig.applyToFetchOptions = async (opts) => {
    const init = await fetchOptions(opts);
    (init.headers as { set(name: string, value: string): void }).set('User-Agent', userAgent);
    return init;
  };
  return kubeConfig;
}
