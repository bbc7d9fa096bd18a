import type { Static, TSchema } from '@sinclair/typebox';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { KindDefinition } from './common.js';
import { DirectorySyncKind, type DirectorySyncSpec, type DirectorySyncStatus } from './directorysync.js';
import { UserKind, type UserSpec, type UserStatus } from './user.js';
import { GroupKind, type GroupSpec, GroupStatus } from './group.js';
import { PolicyKind, type PolicySpec, PolicyStatus } from './policy.js';

export interface KubeObject<Spec, Status> {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: Spec;
  status?: Status;
}

type StaticOf<T extends TSchema> = Static<T>;

export type DirectorySync = KubeObject<DirectorySyncSpec, DirectorySyncStatus>;
export type User = KubeObject<UserSpec, UserStatus>;
export type Group = KubeObject<GroupSpec, StaticOf<typeof GroupStatus>>;
export type Policy = KubeObject<PolicySpec, StaticOf<typeof PolicyStatus>>;

export const ALL_KINDS: KindDefinition[] = [DirectorySyncKind, UserKind, GroupKind, PolicyKind];
