{{/*
Chart name, truncated to 63 characters.
*/}}
{{- define "rolecall.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. The release name is used alone when it already
contains the chart name.
*/}}
{{- define "rolecall.fullname" -}}
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

{{- define "rolecall.storeName" -}}
{{- printf "%s-store" (include "rolecall.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "rolecall.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "rolecall.labels" -}}
helm.sh/chart: {{ include "rolecall.chart" . }}
{{ include "rolecall.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "rolecall.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rolecall.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "rolecall.storeSelectorLabels" -}}
{{ include "rolecall.selectorLabels" . }}
app.kubernetes.io/component: store
{{- end }}

{{- define "rolecall.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rolecall.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "rolecall.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Secret names and keys. */}}
{{- define "rolecall.adminSecretName" -}}
{{- default (printf "%s-admin-token" (include "rolecall.fullname" .)) .Values.auth.admin.existingSecret }}
{{- end }}
{{- define "rolecall.syncSecretName" -}}
{{- default (printf "%s-sync-token" (include "rolecall.fullname" .)) .Values.auth.sync.existingSecret }}
{{- end }}
{{- define "rolecall.databaseSecretName" -}}
{{- default (printf "%s-database" (include "rolecall.fullname" .)) .Values.database.existingSecret }}
{{- end }}
{{- define "rolecall.pvcName" -}}
{{- default (printf "%s-data" (include "rolecall.storeName" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/* The store's SnapshotSync URL inside the cluster. */}}
{{- define "rolecall.storeSyncUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "rolecall.storeName" .) .Release.Namespace (int .Values.store.service.syncPort) }}
{{- end }}

{{/* SQLite: the database URL on the persistent volume. */}}
{{- define "rolecall.sqliteUrl" -}}
{{- default (printf "sqlite://%s/rolecall.db" (trimSuffix "/" .Values.persistence.mountPath)) .Values.database.url }}
{{- end }}

{{/*
Checks the values; fails the render with a message saying what to change.
*/}}
{{- define "rolecall.validate" -}}
{{- $db := .Values.database }}
{{- $replicas := int .Values.store.replicas }}
{{- if not (has $db.driver (list "sqlite" "postgres")) }}
{{- fail (printf "database.driver must be \"sqlite\" or \"postgres\", not %q" (toString $db.driver)) }}
{{- end }}
{{- if lt $replicas 0 }}
{{- fail "store.replicas must be 0 or more" }}
{{- end }}
{{- $url := $db.url | default "" }}
{{- if and (not $url) $db.existingSecret }}
{{- /* Read the Secret when the cluster is reachable (helm install/upgrade); `helm template` sees nothing. */}}
{{- $s := lookup "v1" "Secret" .Release.Namespace $db.existingSecret }}
{{- if and $s $s.data (hasKey $s.data $db.existingSecretKey) }}
{{- $url = index $s.data $db.existingSecretKey | b64dec }}
{{- end }}
{{- end }}
{{- $isPg := or (hasPrefix "postgres://" $url) (hasPrefix "postgresql://" $url) }}
{{- if and (gt $replicas 1) (or (ne $db.driver "postgres") (and $url (not $isPg))) }}
{{- fail (printf "store.replicas is %d, but more than one store replica needs a PostgreSQL database (a postgres:// URL): set database.driver=postgres with database.existingSecret (or database.url). SQLite means exactly one replica on a PersistentVolume." $replicas) }}
{{- end }}
{{- if eq $db.driver "postgres" }}
{{- if and (not $db.url) (not $db.existingSecret) }}
{{- fail "database.driver is postgres: set database.existingSecret (a Secret with a postgres:// URL under database.existingSecretKey) or database.url" }}
{{- end }}
{{- if and $url (not $isPg) }}
{{- fail "database.driver is postgres, but the database URL does not start with postgres:// or postgresql://" }}
{{- end }}
{{- else }}
{{- if and $url (not (hasPrefix "sqlite:" $url)) }}
{{- fail "database.driver is sqlite, but the database URL does not start with sqlite:// (for PostgreSQL set database.driver=postgres)" }}
{{- end }}
{{- if $db.existingSecret }}
{{- fail "database.existingSecret is for PostgreSQL: set database.driver=postgres (SQLite takes its path from persistence.mountPath or database.url)" }}
{{- end }}
{{- end }}
{{- if not (has .Values.sidecar.mode (list "tcp" "uds")) }}
{{- fail (printf "sidecar.mode must be \"tcp\" or \"uds\", not %q" (toString .Values.sidecar.mode)) }}
{{- end }}
{{- if not (has .Values.sidecar.onStale (list "serve" "deny")) }}
{{- fail (printf "sidecar.onStale must be \"serve\" or \"deny\", not %q" (toString .Values.sidecar.onStale)) }}
{{- end }}
{{- end }}

{{/*
Returns a token: the value given, else the one already in the Secret (so an
upgrade keeps it), else a new random one.
Usage: include "rolecall.token" (dict "ctx" $ "secret" NAME "key" KEY "value" VALUE)
*/}}
{{- define "rolecall.token" -}}
{{- if .value }}
{{- .value }}
{{- else }}
{{- $s := lookup "v1" "Secret" .ctx.Release.Namespace .secret }}
{{- if and $s $s.data (hasKey $s.data .key) }}
{{- index $s.data .key | b64dec }}
{{- else }}
{{- randAlphaNum 48 }}
{{- end }}
{{- end }}
{{- end }}
