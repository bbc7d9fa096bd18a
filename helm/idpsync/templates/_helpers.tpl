{{/* The chart name, overridable. */}}
{{- define "idpsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. A release named "idpsync" (the usual case) yields "idpsync",
not "idpsync-idpsync".
*/}}
{{- define "idpsync.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the release's cluster-scoped objects (ClusterRole, ClusterRoleBinding). The fullname is
only unique within a namespace, so the release namespace is part of it: two releases named
"idpsync" in two namespaces get two ClusterRoles.
*/}}
{{- define "idpsync.clusterScopedName" -}}
{{- printf "%s-%s" (include "idpsync.fullname" .) .Release.Namespace }}
{{- end }}

{{- define "idpsync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the operator's pods; never change them on upgrade. */}}
{{- define "idpsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "idpsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels saying which release and chart an object comes from (CRDs add their own name). */}}
{{- define "idpsync.releaseLabels" -}}
helm.sh/chart: {{ include "idpsync.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "idpsync.labels" -}}
{{ include "idpsync.releaseLabels" . }}
app.kubernetes.io/name: {{ include "idpsync.name" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: idpsync
{{- end }}

{{- define "idpsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "idpsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* registry/repository@digest, or registry/repository:tag (tag defaults to the appVersion). */}}
{{- define "idpsync.image" -}}
{{- $repository := .Values.image.repository }}
{{- with .Values.image.registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The one namespace the operator watches in namespaced mode, or "" for all namespaces. The operator
takes a single --namespace, so a release cannot watch more than one.
*/}}
{{- define "idpsync.watchNamespace" -}}
{{- if gt (len .Values.watchNamespaces) 1 }}
{{- fail (printf "watchNamespaces lists %d namespaces; the operator watches one namespace per process, so install one release per namespace (docs/install.md)" (len .Values.watchNamespaces)) }}
{{- end }}
{{- first .Values.watchNamespaces | default "" }}
{{- end }}

{{/*
render "auto": true when the cluster serves the API (Helm asks it on install and upgrade;
`helm template` knows only what --api-versions tells it). Called with (list $ enabled "group/version/Kind").
*/}}
{{- define "idpsync.renderWhen" -}}
{{- $root := index . 0 }}
{{- $enabled := index . 1 }}
{{- if eq (toString $enabled) "auto" }}
{{- if $root.Capabilities.APIVersions.Has (index . 2) }}true{{ end }}
{{- else if $enabled }}true
{{- end }}
{{- end }}

{{/*
The Secret holding the SCIM server's certificate, or "" for plain HTTP. Refuses a SCIM server with
neither TLS nor an explicit scim.insecureHttp, and one with both.
*/}}
{{- define "idpsync.scimTlsSecret" -}}
{{- $tls := .Values.scim.tls }}
{{- $secret := $tls.secretName }}
{{- if and $tls.certManager.enabled (not $secret) }}
{{- $secret = printf "%s-scim-tls" (include "idpsync.fullname" .) }}
{{- end }}
{{- if and $secret .Values.scim.insecureHttp }}
{{- fail "scim.insecureHttp cannot be combined with scim.tls (a TLS Secret or cert-manager): choose one" }}
{{- end }}
{{- if and (not $secret) (not .Values.scim.insecureHttp) }}
{{- fail "scim.enabled needs scim.tls.secretName or scim.tls.certManager.enabled (SCIM carries bearer tokens), or scim.insecureHttp=true behind a TLS-terminating proxy" }}
{{- end }}
{{- $secret }}
{{- end }}
