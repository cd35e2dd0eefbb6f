{{/* Names, labels and small computed values shared by the templates. */}}

{{- define "ee.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The operator's objects: "<release>-operator" unless the release name already says so. */}}
{{- define "ee.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains "operator" .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "ee.paperVenue.fullname" -}}
{{- printf "%s-paper-venue" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ee.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ee.labels" -}}
helm.sh/chart: {{ include "ee.chart" . }}
app.kubernetes.io/part-of: eternal-engine
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ee.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ee.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The `helm test` Pod: not the operator's labels (its Service and policies must not pick it). */}}
{{- define "ee.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "ee.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
{{- end }}

{{- define "ee.paperVenue.selectorLabels" -}}
app.kubernetes.io/name: eternal-engine-paper-venue
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: paper-venue
{{- end }}

{{- define "ee.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ee.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is given (digests win). */}}
{{- define "ee.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "ee.runtimeImage" -}}
{{- default (include "ee.image" .) .Values.operator.runtimeImage }}
{{- end }}

{{/* Where `venue: simulator` Engines trade: the chart's paper venue (by its cluster DNS name,
since runtimes run in other namespaces) unless operator.simulatorUrl says otherwise. */}}
{{- define "ee.simulatorUrl" -}}
{{- if .Values.operator.simulatorUrl }}
{{- .Values.operator.simulatorUrl }}
{{- else if .Values.paperVenue.enabled }}
{{- printf "http://%s.%s.svc:%d" (include "ee.paperVenue.fullname" .) .Release.Namespace (int .Values.paperVenue.port) }}
{{- else }}
{{- "" }}
{{- end }}
{{- end }}

{{/* True when the operator watches every namespace (ClusterRole) rather than a list (Roles). */}}
{{- define "ee.clusterwide" -}}
{{- if not .Values.operator.watchNamespaces }}true{{ end }}
{{- end }}

{{/* The rules the operator needs in every namespace it manages (see docs/operations.md). */}}
{{- define "ee.rbac.namespacedRules" -}}
# The five kinds: read and watch them, add finalizers and annotations, reset an Engine's
# managed fields (patch/update).
- apiGroups: ["trading.eternal-engine.io"]
  resources: ["engines", "allocations", "circuitbreakerpolicies", "modeltrainings", "backtests"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["trading.eternal-engine.io"]
  resources: ["engines/status", "allocations/status", "circuitbreakerpolicies/status", "modeltrainings/status", "backtests/status"]
  verbs: ["get", "patch", "update"]
# Owner references with blockOwnerDeletion on the runtime's, the training's and the backtest's objects
# (enforced where the OwnerReferencesPermissionEnforcement admission plugin runs, e.g. OpenShift).
- apiGroups: ["trading.eternal-engine.io"]
  resources: ["engines/finalizers", "modeltrainings/finalizers", "backtests/finalizers"]
  verbs: ["update"]
# Per ModelTraining: the Job that trains (watched for its progress; replaced when what is
# trained changes). Per Backtest: its Indexed Job of shards (watched for its progress).
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "delete"]
# Per Engine: the runtime's Deployment, config, metrics Service, ServiceAccount and Role.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: [""]
  resources: ["configmaps", "services", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
# Engine credentials (read) and the simulator keys the operator provisions itself.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
