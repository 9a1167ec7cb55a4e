"""The Kubernetes manifests validate against the Kubernetes schemas (kubernetes-validate ships
them: no cluster or network), shut down within the gateway's grace period, and carry the same
config as compose.yaml, which loads; compose.yaml has its two gateways behind the proxy."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from switchboard.config import Config, parse_config

ROOT = Path(__file__).parents[2]
K8S = ROOT / "deploy" / "kubernetes"
ENV = {
    "SWITCHBOARD_MASTER_KEY": "sk-master",
    "SWITCHBOARD_DATABASE": "postgresql://switchboard@db/switchboard",
    "SWITCHBOARD_REDIS": "redis://redis:6379/0",
}


def manifests() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text())
    ]


def by_kind(kind: str) -> dict[str, Any]:
    (found,) = [doc for _, doc in manifests() if doc["kind"] == kind]
    return found


@pytest.mark.parametrize("version", ["1.29.0", "1.37.0"])
def test_manifests_validate_against_the_kubernetes_schemas(version: str) -> None:
    kinds: set[str] = set()
    for _name, doc in manifests():
        kubernetes_validate.validate(doc, version, strict=True)
        kinds.add(doc["kind"])
    assert kinds == {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }


def test_validation_would_catch_a_misspelt_field() -> None:
    bad = copy.deepcopy(by_kind("Deployment"))
    bad["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.37.0", strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted({name for name, _ in manifests()})


def cluster_config(text: str) -> Config:
    return parse_config(yaml.safe_load(text), "cluster.yaml", env=ENV)


def test_configmap_is_the_compose_config_and_loads() -> None:
    embedded = by_kind("ConfigMap")["data"]["cluster.yaml"]
    assert embedded == (ROOT / "deploy" / "switchboard-cluster.yaml").read_text()
    config = cluster_config(embedded)
    assert config.database == ENV["SWITCHBOARD_DATABASE"]
    assert config.redis == ENV["SWITCHBOARD_REDIS"]
    assert [m.id for m in config.models] == ["switchboard/demo"]


def test_image_default_config_loads() -> None:
    text = (ROOT / "deploy" / "switchboard.yaml").read_text()
    config = parse_config(
        yaml.safe_load(text), "switchboard.yaml", env={"SWITCHBOARD_MASTER_KEY": "k"}
    )
    assert config.database == "sqlite:////var/lib/switchboard/switchboard.db"


def test_streams_drain_before_the_pod_is_killed() -> None:
    grace = cluster_config(by_kind("ConfigMap")["data"]["cluster.yaml"]).server
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    # The kubelet's clock starts before preStop: it must cover preStop, then the gateway's
    # own drain, then a margin for the process to exit.
    assert (
        pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + grace.shutdown_grace_seconds + 5
    )
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    assert pod["securityContext"]["runAsNonRoot"] is True
    # Secrets are referenced, never shipped.
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert refs == {"switchboard"}
    assert "Secret" not in {doc["kind"] for _, doc in manifests()}


def test_compose_runs_two_gateways_behind_the_proxy_with_their_services() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"gateway-1", "gateway-2", "proxy", "postgres", "redis", "prometheus"} <= set(services)
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    for gateway in ("gateway-1", "gateway-2"):
        assert f"server {gateway}:8787" in nginx
        assert f"{gateway}:8787" in job["static_configs"][0]["targets"]
        service = services[gateway]
        assert service["build"]["dockerfile"] == "Containerfile"
        assert (
            "./deploy/switchboard-cluster.yaml:/etc/switchboard/cluster.yaml:ro"
            in service["volumes"]
        )
        # Docker's stop timeout covers the gateway's drain.
        assert int(service["stop_grace_period"].rstrip("s")) > 30
    assert "proxy_buffering off" in nginx  # streams are relayed as they come
