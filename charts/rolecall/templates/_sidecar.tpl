{{/*
The rolecall sidecar, for application charts.

An application chart that has this chart as a dependency (with
`rolecall.store.enabled: false` when the store runs elsewhere) adds the
Authorizer to its pod spec:

  containers:
    - name: app
      ...
      env:
        - name: ROLECALL_ADDR
          value: {{ include "rolecall.sidecarAddr" $rc | quote }}
      volumeMounts:
        {{- include "rolecall.sidecarAppVolumeMounts" $rc | nindent 8 }}
    {{- include "rolecall.sidecarContainer" $rc | nindent 4 }}
  volumes:
    {{- include "rolecall.sidecarVolumes" $rc | nindent 4 }}

where $rc is a dict: required keys `image`, `storeUrl`, `syncTokenSecret`;
the others default as in "rolecall.sidecarDefaults" below. See docs/DEPLOY.md.
*/}}

{{- define "rolecall.sidecarDefaults" -}}
name: rolecall-sidecar
volumePrefix: rolecall
imagePullPolicy: IfNotPresent
syncTokenSecretKey: sync-token
mode: tcp
grpcPort: 50051
socketDir: /var/run/rolecall
socketName: authorizer.sock
httpPort: 9090
cacheDir: /var/cache/rolecall
cacheSizeLimit: 256Mi
cacheInterval: 10s
maxStaleness: 5m
onStale: serve
logFormat: json
logLevel: info
native: false
resources:
  requests:
    cpu: 20m
    memory: 64Mi
  limits:
    memory: 1Gi
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{/* The arguments merged over the defaults; checked. */}}
{{- define "rolecall.sidecarConfig" -}}
{{- $c := merge (deepCopy .) (fromYaml (include "rolecall.sidecarDefaults" .)) }}
{{- $_ := required "rolecall.sidecarContainer: \"image\" is required (for example rolecall:0.1.0)" $c.image }}
{{- $_ = required "rolecall.sidecarContainer: \"storeUrl\" is required (for example http://rolecall-store.rolecall.svc:50052)" $c.storeUrl }}
{{- $_ = required "rolecall.sidecarContainer: \"syncTokenSecret\" is required (a Secret in the pod's namespace holding the store's sync token)" $c.syncTokenSecret }}
{{- if not (has $c.mode (list "tcp" "uds")) }}
{{- fail (printf "rolecall.sidecarContainer: mode must be \"tcp\" or \"uds\", not %q" (toString $c.mode)) }}
{{- end }}
{{- if not (has $c.onStale (list "serve" "deny")) }}
{{- fail (printf "rolecall.sidecarContainer: onStale must be \"serve\" or \"deny\", not %q" (toString $c.onStale)) }}
{{- end }}
{{- toYaml $c }}
{{- end }}

{{/* Where the application reaches the Authorizer: a gRPC target. */}}
{{- define "rolecall.sidecarAddr" -}}
{{- $c := fromYaml (include "rolecall.sidecarConfig" .) }}
{{- if eq $c.mode "uds" }}
{{- printf "unix://%s/%s" (trimSuffix "/" $c.socketDir) $c.socketName }}
{{- else }}
{{- printf "http://127.0.0.1:%d" (int $c.grpcPort) }}
{{- end }}
{{- end }}

{{/* The container: one list item, for `containers:` (or `initContainers:` with native: true). */}}
{{- define "rolecall.sidecarContainer" -}}
{{- $c := fromYaml (include "rolecall.sidecarConfig" .) -}}
- name: {{ $c.name }}
  image: {{ $c.image | quote }}
  imagePullPolicy: {{ $c.imagePullPolicy }}
  {{- if $c.native }}
  # A Kubernetes native sidecar (1.29+): started before, and stopped after, the application.
  restartPolicy: Always
  {{- end }}
  args: ["sidecar"]
  env:
    - name: ROLECALL_STORE_URL
      value: {{ $c.storeUrl | quote }}
    - name: ROLECALL_SYNC_TOKEN
      valueFrom:
        secretKeyRef:
          name: {{ $c.syncTokenSecret }}
          key: {{ $c.syncTokenSecretKey }}
    {{- if eq $c.mode "uds" }}
    - name: ROLECALL_GRPC_ADDR
      value: "off"
    - name: ROLECALL_GRPC_UDS
      value: {{ printf "%s/%s" (trimSuffix "/" $c.socketDir) $c.socketName | quote }}
    {{- else }}
    - name: ROLECALL_GRPC_ADDR
      value: {{ printf "127.0.0.1:%d" (int $c.grpcPort) | quote }}
    {{- end }}
    # /healthz and /metrics on all addresses: kubelet probes the pod IP.
    - name: ROLECALL_HTTP_ADDR
      value: {{ printf "0.0.0.0:%d" (int $c.httpPort) | quote }}
    - name: ROLECALL_CACHE_FILE
      value: {{ printf "%s/snapshot.cache" (trimSuffix "/" $c.cacheDir) | quote }}
    - name: ROLECALL_CACHE_INTERVAL
      value: {{ $c.cacheInterval | quote }}
    - name: ROLECALL_MAX_STALENESS
      value: {{ $c.maxStaleness | quote }}
    - name: ROLECALL_ON_STALE
      value: {{ $c.onStale | quote }}
    - name: ROLECALL_LOG_FORMAT
      value: {{ $c.logFormat | quote }}
    - name: RUST_LOG
      value: {{ $c.logLevel | quote }}
    - name: ROLECALL_CLIENT_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
  ports:
    - name: rolecall-http
      containerPort: {{ int $c.httpPort }}
      protocol: TCP
  # Ready once a first snapshot is loaded (from the store or the cache file);
  # 503 while stale under onStale=deny.
  readinessProbe:
    httpGet:
      path: /healthz
      port: {{ int $c.httpPort }}
    periodSeconds: 5
    failureThreshold: 2
  # Alive while the process answers: an absent store must not restart it.
  livenessProbe:
    tcpSocket:
      port: {{ int $c.httpPort }}
    periodSeconds: 10
    failureThreshold: 3
  resources:
    {{- toYaml $c.resources | nindent 4 }}
  securityContext:
    {{- toYaml $c.securityContext | nindent 4 }}
  volumeMounts:
    - name: {{ $c.volumePrefix }}-cache
      mountPath: {{ $c.cacheDir }}
    {{- if eq $c.mode "uds" }}
    - name: {{ $c.volumePrefix }}-socket
      mountPath: {{ $c.socketDir }}
    {{- end }}
{{- end }}

{{/* The sidecar's volumes: list items for the pod's `volumes:`. */}}
{{- define "rolecall.sidecarVolumes" -}}
{{- $c := fromYaml (include "rolecall.sidecarConfig" .) -}}
- name: {{ $c.volumePrefix }}-cache
  emptyDir:
    sizeLimit: {{ $c.cacheSizeLimit }}
{{- if eq $c.mode "uds" }}
- name: {{ $c.volumePrefix }}-socket
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
{{- end }}
{{- end }}

{{/* For the application container's `volumeMounts:` in uds mode (nothing in tcp mode). */}}
{{- define "rolecall.sidecarAppVolumeMounts" -}}
{{- $c := fromYaml (include "rolecall.sidecarConfig" .) }}
{{- if eq $c.mode "uds" -}}
- name: {{ $c.volumePrefix }}-socket
  mountPath: {{ $c.socketDir }}
{{- end }}
{{- end }}
