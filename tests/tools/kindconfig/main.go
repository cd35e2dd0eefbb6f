// Command kindconfig decodes kind cluster configs the way `kind create cluster --config` does:
// kind's own v1alpha4 types, strict (an unknown or misspelt field is an error, as kind >= 0.20
// makes it), then kind's defaults. It prints one JSON summary per file for the tests to check.
//
//	kindconfig deploy/kind/cluster.yaml
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

type node struct {
	Role  string `json:"role"`
	Image string `json:"image"`
}

type summary struct {
	Path          string `json:"path"`
	Name          string `json:"name"`
	Nodes         []node `json:"nodes"`
	PodSubnet     string `json:"podSubnet"`
	ServiceSubnet string `json:"serviceSubnet"`
}

func load(path string) (*summary, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// kind's encoding.Parse: apiVersion and kind first, then the version's types, strictly.
	var meta struct {
		Kind       string `yaml:"kind"`
		APIVersion string `yaml:"apiVersion"`
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("could not determine kind / apiVersion: %w", err)
	}
	if meta.APIVersion != "kind.x-k8s.io/v1alpha4" || meta.Kind != "Cluster" {
		return nil, fmt.Errorf("want kind.x-k8s.io/v1alpha4 Cluster, got %s %s", meta.APIVersion, meta.Kind)
	}
	cfg := &v1alpha4.Cluster{}
	decoder := yaml.NewDecoder(bytes.NewReader(raw))
	decoder.KnownFields(true)
	if err := decoder.Decode(cfg); err != nil {
		return nil, fmt.Errorf("unable to decode config: %w", err)
	}
	v1alpha4.SetDefaultsCluster(cfg)
	out := &summary{Path: path, Name: cfg.Name, PodSubnet: cfg.Networking.PodSubnet,
		ServiceSubnet: cfg.Networking.ServiceSubnet}
	for _, n := range cfg.Nodes {
		out.Nodes = append(out.Nodes, node{Role: string(n.Role), Image: n.Image})
	}
	return out, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kindconfig FILE...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		s, err := load(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		line, _ := json.Marshal(s)
		fmt.Println(string(line))
	}
	if failed {
		os.Exit(1)
	}
}
