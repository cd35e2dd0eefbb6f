"""manifests/: the kustomize base and overlays, monitoring and the Argo CD objects build with
kubectl's kustomize and are accepted by the real API server (server-side apply, strict field
validation); what each environment trades on is checked, and so is what Argo CD may ignore."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from deploy.tooling import (
    ARGOCD,
    MANIFESTS,
    OPERATOR_CHART,
    REPO,
    Obj,
    apply,
    delete_cluster_scoped,
    kustomize,
    load_yaml_docs,
    one,
    pick,
)
from eternal_operator.devtools.controlplane import ControlPlane

ENGINES = ["core-hodl", "funding", "tactical", "trend"]
KUSTOMIZATIONS = [
    "samples",
    "base",
    "overlays/dev",
    "overlays/prod",
    "monitoring",
    "argocd/apps",
    "argocd/health",
    "samples/meta-trend",  # a ModelTraining and its Engine, applied by hand: not the fleet
]
STANDALONE = [
    "argocd/root-application.yaml",
    "admission/policies.yaml",  # applied by the local stack and tests; the chart ships a copy
    "samples/engine-grid.yaml",  # a sample outside the default fleet, applied by hand
    # a plain Alertmanager's config, not a Kubernetes object: amtool checks it
    # (tests/deploy/test_alertmanager_config.py)
    "monitoring/alertmanager/alertmanager.example.yml",
    # an Engine applied by hand: not in the default fleet (nor its allocation)
    "samples/engine-scalper.yaml",
    # a Backtest (a parameter sweep) applied by hand: not the fleet
    "samples/backtest-sma-cross.yaml",
]


@pytest.mark.unit
def test_every_manifest_file_is_built_by_a_kustomization_or_listed() -> None:
    """So no file escapes the checks below."""
    covered = {MANIFESTS / s for s in STANDALONE}
    for folder in KUSTOMIZATIONS:
        base = MANIFESTS / folder
        kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
        covered.add(base / "kustomization.yaml")
        refs = list(kustomization.get("resources", []))
        refs += [p["path"] for p in kustomization.get("patches", []) if "path" in p]
        for gen in kustomization.get("configMapGenerator", []):
            refs += [f.split("=")[-1] for f in gen.get("files", [])]
        covered |= {(base / ref).resolve() for ref in refs}
    files = {
        p.resolve() for ext in ("*.yaml", "*.yml", "*.json", "*.lua") for p in MANIFESTS.rglob(ext)
    }
    assert files - covered == set()


@pytest.mark.unit
def test_dev_trades_on_the_paper_venue_only() -> None:
    docs = kustomize(MANIFESTS / "overlays/dev")
    engines = pick(docs, "Engine")
    assert sorted(e["metadata"]["name"] for e in engines) == ENGINES
    for e in engines:
        assert e["metadata"]["namespace"] == "eternal-dev"
        assert e["spec"]["venue"] == "simulator"
        assert "credentials" not in e["spec"]
    assert not pick(docs, "ExternalSecret")


@pytest.mark.unit
def test_prod_engines_trade_mainnet_with_their_own_delivered_keys() -> None:
    docs = kustomize(MANIFESTS / "overlays/prod")
    secrets_delivered = {d["spec"]["target"]["name"] for d in pick(docs, "ExternalSecret")}
    for e in pick(docs, "Engine"):
        assert e["metadata"]["namespace"] == "eternal-fleet"
        assert e["spec"]["venue"] == "mainnet"
        assert e["spec"]["credentials"]["secretName"] == f"{e['metadata']['name']}-bybit"
        assert e["spec"]["credentials"]["secretName"] in secrets_delivered
        # the policy selects every engine of the portfolio
        assert e["metadata"]["labels"]["trading.eternal-engine.io/portfolio"] == "eternal"
    allocation = one(docs, "Allocation", "eternal")
    assert allocation["spec"]["masterCredentials"]["secretName"] in secrets_delivered
    weights = {t["engine"]: t["weight"] for t in allocation["spec"]["targets"]}
    assert set(weights) == set(ENGINES)
    assert sum(weights.values()) <= 1
    assert one(docs, "CircuitBreakerPolicy")["spec"]["emergencyHalt"] is False


@pytest.mark.unit
def test_argocd_sources_point_at_real_paths() -> None:
    apps = kustomize(ARGOCD / "apps")
    root = load_yaml_docs(ARGOCD / "root-application.yaml")[0]
    assert (REPO / root["spec"]["source"]["path"]).is_dir()
    for app in pick(apps, "Application"):
        source = app["spec"]["source"]
        assert (REPO / source["path"] / "Chart.yaml").is_file(), source["path"]
        for values in source.get("helm", {}).get("valueFiles", []):
            assert (REPO / source["path"] / values).is_file(), values
    appset = one(apps, "ApplicationSet")
    template_path = appset["spec"]["template"]["spec"]["source"]["path"]
    project = one(apps, "AppProject")
    allowed = {d["namespace"] for d in project["spec"]["destinations"]}
    for element in appset["spec"]["generators"][0]["list"]["elements"]:
        path = template_path.replace("{{ .env }}", element["env"])
        assert (REPO / path / "kustomization.yaml").is_file(), path
        overlay_namespace = yaml.safe_load((REPO / path / "kustomization.yaml").read_text())
        assert overlay_namespace["namespace"] == element["namespace"]
        assert element["namespace"] in allowed
    waves = {
        a["metadata"]["name"]: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for a in apps
    }
    assert (
        waves["eternal-engine-crds"]
        < waves["eternal-engine-operator"]
        < waves["eternal-engine-fleet"]
    )


@pytest.mark.unit
def test_argocd_ignores_only_the_rollout_restart_stamp() -> None:
    """Git owns the fleet's spec: no Application may ignore differences on the fleet's kinds,
    and the one ignore there is names a Deployment the chart really renders."""
    apps = kustomize(ARGOCD / "apps")
    templates = [a["spec"] for a in pick(apps, "Application")]
    templates += [a["spec"]["template"]["spec"] for a in pick(apps, "ApplicationSet")]
    ignores = [i for spec in templates for i in spec.get("ignoreDifferences", [])]
    assert ignores == [
        {
            "group": "apps",
            "kind": "Deployment",
            "name": "eternal-operator",
            "jqPathExpressions": [
                '.spec.template.metadata.annotations."kubectl.kubernetes.io/restartedAt"'
            ],
        }
    ]
    operator_app = one(apps, "Application", "eternal-engine-operator")
    assert operator_app["spec"]["source"]["helm"]["releaseName"] == "eternal"  # -> eternal-operator
    crds_app = one(apps, "Application", "eternal-engine-crds")
    assert crds_app["spec"]["syncPolicy"]["automated"]["prune"] is False
    assert (OPERATOR_CHART / "templates" / "deployment.yaml").is_file()


# -- the real API server -------------------------------------------------------------------


@pytest.fixture
def cleanup(control_plane: ControlPlane) -> Iterator[list[Obj]]:
    applied: list[Obj] = []
    yield applied
    delete_cluster_scoped(control_plane, applied)


def apply_all(plane: ControlPlane, docs: list[Obj], cleanup: list[Obj], *extra: str) -> str:
    cleanup.extend(docs)
    result = apply(plane, docs, *extra, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def dry_run(plane: ControlPlane, docs: list[Obj], *extra: str) -> str:
    """Every check of a real apply (schemas, strict fields, CEL, admission), but no Engine is
    left for an operator elsewhere in the session to reconcile."""
    result = apply(plane, docs, "--dry-run=server", *extra, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("serverside-applied (server dry run)") == len(docs)
    return result.stdout + result.stderr


@pytest.mark.cluster
@pytest.mark.usefixtures("thirdparty_crds")
@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_overlay_applies(overlay: str, control_plane: ControlPlane, cleanup: list[Obj]) -> None:
    docs = kustomize(MANIFESTS / overlay)
    namespace = one(docs, "Namespace")
    apply_all(control_plane, [namespace], cleanup)  # real: the rest is checked inside it
    out = dry_run(control_plane, [d for d in docs if d is not namespace])
    for engine in ENGINES:
        assert f"engine.trading.eternal-engine.io/{engine} serverside-applied" in out


@pytest.mark.cluster
def test_base_applies(control_plane: ControlPlane, namespace: str) -> None:
    dry_run(control_plane, kustomize(MANIFESTS / "base"), "-n", namespace)


@pytest.mark.cluster
@pytest.mark.usefixtures("thirdparty_crds")
def test_monitoring_applies(
    control_plane: ControlPlane, namespace: str, cleanup: list[Obj]
) -> None:
    docs = kustomize(MANIFESTS / "monitoring")
    out = apply_all(control_plane, docs, cleanup, "-n", namespace)
    assert "prometheusrule.monitoring.coreos.com/eternal-engine serverside-applied" in out
    assert len(pick(docs, "ConfigMap")) == 2


@pytest.fixture(scope="module")
def argocd_namespace(control_plane: ControlPlane) -> Iterator[str]:
    control_plane.kubectl("create", "namespace", "argocd", check=False)
    yield "argocd"
    control_plane.kubectl("delete", "namespace", "argocd", "--wait=false", check=False)


@pytest.mark.cluster
@pytest.mark.usefixtures("thirdparty_crds", "argocd_namespace")
def test_argocd_objects_apply(control_plane: ControlPlane, cleanup: list[Obj]) -> None:
    docs = kustomize(ARGOCD / "apps") + kustomize(ARGOCD / "health")
    docs += load_yaml_docs(ARGOCD / "root-application.yaml")
    apply_all(control_plane, docs, cleanup)
    apps = control_plane.kubectl("get", "applications", "-n", "argocd", "-o", "name").stdout
    assert len(apps.split()) == 3


@pytest.mark.cluster
@pytest.mark.usefixtures("thirdparty_crds", "argocd_namespace")
def test_health_keys_merge_into_an_existing_argocd_cm(control_plane: ControlPlane) -> None:
    """Server-side apply owns only our keys: Argo CD's own settings in argocd-cm survive."""
    control_plane.kubectl("delete", "cm", "argocd-cm", "-n", "argocd", "--ignore-not-found")
    control_plane.kubectl(
        "create", "configmap", "argocd-cm", "-n", "argocd", "--from-literal=url=https://cd.example"
    )
    try:
        docs = kustomize(ARGOCD / "health")
        apply(control_plane, docs)
        data = control_plane.kubectl("get", "cm", "argocd-cm", "-n", "argocd", "-o", "yaml")
        cm = yaml.safe_load(data.stdout)["data"]
        assert cm["url"] == "https://cd.example"
        assert "resource.customizations.health.trading.eternal-engine.io_Engine" in cm
    finally:
        control_plane.kubectl("delete", "cm", "argocd-cm", "-n", "argocd", check=False)


@pytest.mark.cluster
@pytest.mark.usefixtures("thirdparty_crds")
def test_a_wrong_prometheus_rule_is_refused(control_plane: ControlPlane, namespace: str) -> None:
    """The stand-in CRDs really check: a rule with neither alert nor record is refused."""
    rule = one(kustomize(MANIFESTS / "monitoring"), "PrometheusRule")
    del rule["spec"]["groups"][0]["rules"][0]["alert"]
    result = apply(control_plane, [rule], "-n", namespace, check=False)
    assert result.returncode != 0
    assert "a rule is either an alert or a record" in result.stderr


@pytest.mark.cluster
@pytest.mark.usefixtures("thirdparty_crds")
def test_an_allocation_edit_beyond_100_percent_is_refused(
    control_plane: ControlPlane, namespace: str
) -> None:
    """What CI does with an allocation pull request (docs/gitops.md): the edited overlay is
    applied to a real API server, and weights over 1 are refused by the CRD's own rule."""
    allocation = one(kustomize(MANIFESTS / "overlays/prod"), "Allocation", "eternal")
    allocation["metadata"]["namespace"] = namespace
    allocation["spec"]["targets"][0]["weight"] = 0.65  # 0.65 + 0.20 + 0.15 + 0.05 = 1.05
    result = apply(control_plane, [allocation], "--dry-run=server", check=False)
    assert result.returncode != 0
    assert "targets weights must sum to at most 1" in result.stderr


@pytest.mark.cluster
def test_runtime_pods_are_admitted_in_the_restricted_fleet_namespaces(
    control_plane: ControlPlane, namespace: str
) -> None:
    """The overlays label the fleet namespaces `restricted`: the runtime Deployment the operator
    renders for each sample Engine must pass that standard, or no engine would start."""
    render_mod = pytest.importorskip("eternal_operator.controllers.engine.render")
    from eternal_kernel.api.v1alpha1 import Engine
    from eternal_operator.settings import OperatorSettings

    for overlay in ("overlays/dev", "overlays/prod"):
        labels = one(kustomize(MANIFESTS / overlay), "Namespace")["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    control_plane.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/warn=restricted"
    )
    deployments = []
    for doc in pick(kustomize(MANIFESTS / "overlays/prod"), "Engine"):
        engine = Engine.model_validate(doc)
        ref = render_mod.EngineRef(name=doc["metadata"]["name"], namespace=namespace, uid="u")
        deploy = render_mod.deployment(engine, ref, OperatorSettings(), replicas=1, cfg_hash="0")
        deploy["metadata"].pop("ownerReferences", None)
        deployments.append(deploy)
    # a dry run: a real one would hand these Deployments to the session's pod runner, if any
    assert "would violate PodSecurity" not in dry_run(control_plane, deployments)
