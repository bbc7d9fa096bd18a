// Owner references the operator sets: a DirectorySync owns its Users and Groups; a Group owns the
// Policies that grant access through it, so the garbage collector removes them together.
import type { V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, type DirectorySync } from '../api/v1alpha1/index.js';

export function directoryOwnerRef(ds: DirectorySync): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: 'DirectorySync', name: ds.metadata.name!, uid: ds.metadata.uid!, controller: true, blockOwnerDeletion: false };
}

/** controller is true for Policies the operator writes from spec.policies, false for authored ones. */
export function groupOwnerRef(name: string, uid: string, controller: boolean): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: 'Group', name, uid, controller, blockOwnerDeletion: false };
}

export function isGroupOwnerRef(ref: V1OwnerReference): boolean {
  return ref.kind === 'Group' && ref.apiVersion === API_VERSION;
}
