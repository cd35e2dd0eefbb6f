// Module kindconfig decodes the repository's kind cluster config with kind's own types (the
// version pinned here), strictly, like `kind create cluster --config` does. Built by build.sh
// through the Go module proxy and cached under ~/.cache/eternal-engine (never in the repository).
module eternal-engine.io/kindconfig

go 1.24.0

require (
	go.yaml.in/yaml/v3 v3.0.4
	sigs.k8s.io/kind v0.33.0
)

require github.com/pkg/errors v0.9.1 // indirect
