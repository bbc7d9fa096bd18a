{{/*
What the operator may do where it reconciles: the rules of the ClusterRole (every namespace) or of
the Role in each watched namespace. deploy/rbac.yaml is rendered from this chart; keep this block
plain YAML (test/unit/deploy/rbac-parity.test.ts reads it without Helm).
*/}}
{{- define "idpsync.operatorRules" -}}
# The idpsync.io kinds it reconciles and writes.
# Every write is a patch (server-side apply or merge patch); nothing is replaced with update.
- apiGroups: [idpsync.io]
  resources: [directorysyncs]
  verbs: [get, list, watch, patch]
- apiGroups: [idpsync.io]
  resources: [users, groups, policies]
  verbs: [get, list, watch, create, patch, delete]
# Users (status written with spec) and Groups have no status subresource.
- apiGroups: [idpsync.io]
  resources: [directorysyncs/status, policies/status]
  verbs: [patch]
# Credentials: read the Secret a DirectorySync names (same namespace only, enforced by the CRD);
# create one when asked to generate a key pair, and keep incremental-sync state in one it owns.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch, delete]
# Events on notable transitions (suspensions, revocations, failures).
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}
