// A ResilientInformer over one idpsync.io kind, in one namespace or all, listing through KubeClient.
import type { KubeConfig, KubernetesListObject } from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION, type KubeObject } from '../api/v1alpha1/index.js';
import { PLURAL, type IdpKind, type KubeClient } from '../kube/client.js';
import { ResilientInformer } from '../runtime/informer.js';
import type { Logger } from '../runtime/logger.js';

export interface KindInformerOptions {
  kubeConfig: KubeConfig;
  kube: KubeClient;
  logger: Logger;
  /** All namespaces when absent. */
  namespace?: string;
}

export function kindInformer<T extends KubeObject<unknown, unknown>>(kind: IdpKind, opts: KindInformerOptions): ResilientInformer<T> {
  const plural = PLURAL[kind];
  const scope = opts.namespace ? `/namespaces/${opts.namespace}` : '';
  return new ResilientInformer<T>({
    resource: plural,
    path: `/apis/${GROUP}/${VERSION}${scope}/${plural}`,
    kubeConfig: opts.kubeConfig,
    logger: opts.logger,
    list: async () => {
      const items = await opts.kube.list<T>(kind, opts.namespace);
      return { apiVersion: API_VERSION, kind: `${kind}List`, metadata: {}, items } as KubernetesListObject<T>;
    },
  });
}
