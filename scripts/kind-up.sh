#!/usr/bin/env bash
# Eternal Engine on a local kind cluster (`make kind-up`): the CRDs, the operator and the paper
# venue from the Helm charts, on an image built from this checkout, then the sample fleet.
#
#   scripts/kind-up.sh [extra helm args for the operator chart, e.g. --set operator.logLevel=DEBUG]
#
# Steps: check the tools; create the kind cluster of deploy/kind/cluster.yaml, or reuse it;
# `docker build` the image and `kind load docker-image` it into the node; `helm upgrade
# --install` the CRDs chart, then the operator chart with deploy/kind/values.yaml (paper venue
# on, imagePullPolicy Never); wait for the Deployments to roll out; apply manifests/samples; print
# what to try. Every step is safe to repeat: re-running reuses the cluster and upgrades the
# releases in place. The image tag is the image's own ID, so an unchanged checkout does not
# restart anything and a changed one rolls out. `make kind-down` deletes the cluster.
#
# Environment (all optional):
#   KIND_CLUSTER_NAME     cluster name (eternal-engine); the kubectl context is kind-<name>
#   KIND_CONFIG           kind config (deploy/kind/cluster.yaml)
#   KIND_UP_IMAGE         repository:tag of an image to use instead of building one
#   KIND_UP_NAMESPACE     namespace of the operator release (eternal-system)
#   KIND_UP_RELEASE       operator release name (eternal)
#   KIND_UP_TIMEOUT       how long each wait may take (300s)
#   KIND_UP_WAIT=0        do not wait for the Deployments to roll out
#   KIND_UP_SKIP_CLUSTER=1  use an existing cluster: no kind and no docker; KUBECONFIG's current
#                         context (or KIND_UP_CONTEXT), and KIND_UP_IMAGE, an image its nodes
#                         already have. The tests run the Kubernetes steps this way.
#   HELM                  a helm binary; default: the pinned one `make helm` builds
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cluster=${KIND_CLUSTER_NAME:-eternal-engine}
config=${KIND_CONFIG:-$repo/deploy/kind/cluster.yaml}
namespace=${KIND_UP_NAMESPACE:-eternal-system}
release=${KIND_UP_RELEASE:-eternal}
timeout=${KIND_UP_TIMEOUT:-300s}
wait_rollout=${KIND_UP_WAIT:-1}
skip_cluster=${KIND_UP_SKIP_CLUSTER:-0}
image=${KIND_UP_IMAGE:-}
image_repository=eternal-engine/eternal-engine

step=0
progress() { step=$((step + 1)); printf '==> [%d] %s\n' "$step" "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'kind-up: error: %s\n' "$*" >&2; exit 1; }
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not on PATH: $2"
}

progress "checking the tools"
if [[ $skip_cluster != 1 ]]; then
  need docker "install Docker (https://docs.docker.com/engine/install/)"
  need kind "install kind v0.23.0 or newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
fi
need kubectl "install kubectl 1.30 or newer (https://kubernetes.io/docs/tasks/tools/)"
if [[ -z ${HELM:-} ]]; then
  # The pinned helm, built from the Go module proxy and cached (tests/tools/helm/build.sh).
  HELM=$(bash "$repo/tests/tools/helm/build.sh" | tail -n1) \
    || die "could not build the pinned helm (it needs Go >= 1.24); or set HELM=/path/to/helm"
fi
[[ -x $HELM ]] || die "HELM=$HELM is not executable"
note "helm: $HELM"
if [[ -n $image && ( $image != *:* || ${image##*:} == */* ) ]]; then
  die "KIND_UP_IMAGE=$image: want repository:tag"
fi
if [[ $skip_cluster == 1 ]]; then
  [[ -n $image ]] || die "KIND_UP_SKIP_CLUSTER=1 needs KIND_UP_IMAGE=repository:tag (an image the cluster has)"
  context=${KIND_UP_CONTEXT:-$(kubectl config current-context)} \
    || die "no current kubectl context; set KUBECONFIG or KIND_UP_CONTEXT"
else
  docker info >/dev/null 2>&1 \
    || die "docker cannot reach its daemon (is Docker running, and may this user use it?)"
  context=kind-$cluster
fi

if [[ $skip_cluster == 1 ]]; then
  progress "using the existing cluster of context $context (KIND_UP_SKIP_CLUSTER=1)"
else
  if kind get clusters 2>/dev/null | grep -qx -- "$cluster"; then
    progress "reusing kind cluster $cluster"
  else
    progress "creating kind cluster $cluster from ${config#"$repo"/}"
    [[ -f $config ]] || die "no kind config at $config"
    kind create cluster --name "$cluster" --config "$config" --wait "$timeout"
  fi
  # Also after a Docker restart, which can move the API server's port: fresh credentials.
  kind export kubeconfig --name "$cluster"
fi
kube=(kubectl --context "$context")
"${kube[@]}" cluster-info >/dev/null || die "cannot reach the API server of context $context"

if [[ -n $image ]]; then
  progress "using image $image (KIND_UP_IMAGE)"
else
  progress "building the image (docker build)"
  iidfile=$(mktemp)
  trap 'rm -f "$iidfile"' EXIT
  docker build --iidfile "$iidfile" \
    --build-arg REVISION="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)" \
    --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -t "$image_repository:kind" "$repo"
  id=$(<"$iidfile")
  id=${id#sha256:}
  [[ -n $id ]] || die "docker build wrote no image ID"
  # Tagged by content: an unchanged image keeps its tag, so the Deployments stay as they are.
  image=$image_repository:kind-${id:0:12}
  docker tag "$image_repository:kind" "$image"
  note "image: $image"
fi
if [[ $skip_cluster != 1 ]]; then
  progress "loading $image into kind cluster $cluster"
  kind load docker-image "$image" --name "$cluster"
fi

progress "installing the CRDs (chart eternal-engine-crds)"
"$HELM" upgrade --install eternal-engine-crds "$repo/charts/eternal-engine-crds" \
  --kube-context "$context"
"${kube[@]}" wait --for=condition=Established --timeout="$timeout" \
  crd -l app.kubernetes.io/name=eternal-engine-crds

progress "installing the operator and the paper venue (chart eternal-engine-operator, release $release in $namespace)"
"$HELM" upgrade --install "$release" "$repo/charts/eternal-engine-operator" \
  --kube-context "$context" --namespace "$namespace" --create-namespace \
  -f "$repo/deploy/kind/values.yaml" \
  --set-string image.repository="${image%:*}" --set-string image.tag="${image##*:}" \
  "$@"

if [[ $wait_rollout == 0 ]]; then
  progress "not waiting for the Deployments to roll out (KIND_UP_WAIT=0)"
else
  progress "waiting for the Deployments to roll out (at most $timeout each)"
  mapfile -t deployments < <("${kube[@]}" -n "$namespace" get deployments \
    -l app.kubernetes.io/instance="$release" -o name)
  [[ ${#deployments[@]} -gt 0 ]] || die "release $release has no Deployments in $namespace"
  for deployment in "${deployments[@]}"; do
    "${kube[@]}" -n "$namespace" rollout status "$deployment" --timeout="$timeout" \
      || die "$deployment did not roll out within $timeout; see: kubectl --context $context -n $namespace describe pods -l app.kubernetes.io/instance=$release"
  done
fi

progress "applying the sample fleet (manifests/samples)"
"${kube[@]}" apply --server-side -k "$repo/manifests/samples"

printf '\nEternal Engine is up on context %s. Try:\n\n' "$context"
printf '  kubectl config use-context %s\n' "$context"
sed 's/^/  /' "$repo/manifests/samples/try-it.txt"
printf '\nmake kind-down deletes the cluster.\n'
