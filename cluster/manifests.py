"""KubeRay manifests from the rendered Serve config: a RayService and a Helm chart around it.

The RayService (KubeRay `ray.io/v1`) embeds the Serve config unchanged as `serveConfigV2`, so what a
cluster runs under KubeRay is exactly what `stellwerk deploy` applies to bare Ray nodes. Its Ray
cluster has a head group (no model replicas: `num-cpus: 0`), a model worker group (CPU or GPU
variant) whose nodes carry the custom resource the catalogue's pools ask for, and a `routers` group:
Ray nodes without CPUs for models whose pods run `stellwerk serve --attach auto` as stateless
routers, exposed by a Kubernetes Service with HTTP probes. The Helm chart carries the same objects
with the image, sizes and replica counts as values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import yaml

__all__ = ["ClusterShape", "dump_yaml", "helm_chart", "rayservice", "router_service"]

Variant = Literal["cpu", "gpu"]
ROUTER_PORT = 8080
ROUTER_LABEL = {"app.kubernetes.io/name": "stellwerk", "app.kubernetes.io/component": "router"}
# NOTE: KubeRay starts Ray itself unless this annotation is set; with it, KubeRay puts its generated
# `ray start ... --block` into $KUBERAY_GEN_RAY_START_CMD and the container runs our command instead.
_OWN_COMMAND = {"ray.io/overwrite-container-cmd": "true"}


class _Block(str):
    """A string written as a YAML literal block (`|`), so serveConfigV2 stays readable."""


class _Dumper(yaml.SafeDumper):
    pass


def _block(dumper: yaml.SafeDumper, text: _Block) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(text), style="|")


_Dumper.add_representer(_Block, _block)


def dump_yaml(*docs: Any) -> str:
    """YAML documents, with embedded configs as literal blocks."""
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False)


@dataclass(frozen=True)
class ClusterShape:
    """Sizes of the rendered Ray cluster."""

    name: str = "stellwerk"
    image: str = "stellwerk:0.1.0"
    ray_version: str = "2.60.0"
    variant: Variant = "cpu"
    worker_resource: str = "worker_node"
    workers: int = 1
    max_workers: int = 4
    worker_cpu: str = "4"
    worker_memory: str = "16Gi"
    gpus_per_worker: int = 1
    routers: int = 2
    database_secret: str = "stellwerk-database"  # a Secret with key `url` (postgresql://...)


def rayservice(serve_config: dict[str, Any], shape: ClusterShape) -> dict[str, Any]:
    """A KubeRay RayService whose serveConfigV2 is `serve_config` (as YAML text)."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": shape.name, "labels": {"app.kubernetes.io/name": "stellwerk"}},
        "spec": {
            "serveConfigV2": _Block(yaml.safe_dump(serve_config, sort_keys=False)),
            "rayClusterConfig": {
                "rayVersion": shape.ray_version,
                "enableInTreeAutoscaling": True,
                "headGroupSpec": _head(shape),
                "workerGroupSpecs": [_model_workers(shape), _routers(shape)],
            },
        },
    }


def router_service(shape: ClusterShape) -> dict[str, Any]:
    """The Service in front of every router pod (any load balancer or Ingress can point at it)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{shape.name}-router", "labels": dict(ROUTER_LABEL)},
        "spec": {"selector": dict(ROUTER_LABEL),
                 "ports": [{"name": "http", "port": 80, "targetPort": ROUTER_PORT}]},
    }


def _container(name: str, image: str, cpu: str, memory: str, extra: dict[str, str] | None = None
               ) -> dict[str, Any]:
    limits = {"cpu": cpu, "memory": memory, **(extra or {})}
    return {"name": name, "image": image,
            "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}}


def _head(shape: ClusterShape) -> dict[str, Any]:
    container = _container("ray-head", shape.image, "2", "8Gi")
    container["ports"] = [{"containerPort": 6379, "name": "gcs-server"},
                          {"containerPort": 8265, "name": "dashboard"},
                          {"containerPort": 10001, "name": "client"},
                          {"containerPort": 8000, "name": "serve"}]
    return {"rayStartParams": {"num-cpus": "0", "dashboard-host": "0.0.0.0"},
            "template": {"spec": {"containers": [container]}}}


def _model_workers(shape: ClusterShape) -> dict[str, Any]:
    gpus = {"nvidia.com/gpu": str(shape.gpus_per_worker)} if shape.variant == "gpu" else None
    container = _container("ray-worker", shape.image, shape.worker_cpu, shape.worker_memory, gpus)
    container["volumeMounts"] = [{"name": "models", "mountPath": "/models"}]
    return {
        "groupName": f"{shape.variant}-models",
        "replicas": shape.workers, "minReplicas": shape.workers, "maxReplicas": shape.max_workers,
        "rayStartParams": {"resources": json.dumps({shape.worker_resource: 1})},
        "template": {"spec": {"containers": [container],
                              "volumes": [{"name": "models",
                                           "persistentVolumeClaim": {"claimName": f"{shape.name}-models"}}]}},
    }


def _routers(shape: ClusterShape) -> dict[str, Any]:
    container = _container("router", shape.image, "2", "4Gi")
    container["command"] = ["/bin/bash", "-lc", "--"]
    # Start the Ray node without blocking, then the router as the container's main process.
    container["args"] = [
        '${KUBERAY_GEN_RAY_START_CMD/--block/} && exec python -m stellwerk_cli.main serve --attach auto '
        f"--host 0.0.0.0 --port {ROUTER_PORT} --tenants /etc/stellwerk/tenants.yaml"]
    container["env"] = [{"name": "STELLWERK_DATABASE_URL",
                         "valueFrom": {"secretKeyRef": {"name": shape.database_secret, "key": "url"}}},
                        {"name": "RAY_AUTH_MODE", "value": "token"}]
    container["ports"] = [{"containerPort": ROUTER_PORT, "name": "http"}]
    container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": ROUTER_PORT},
                                   "periodSeconds": 5, "failureThreshold": 2}
    container["livenessProbe"] = {"httpGet": {"path": "/health", "port": ROUTER_PORT},
                                  "initialDelaySeconds": 30, "periodSeconds": 10, "failureThreshold": 3}
    container["volumeMounts"] = [{"name": "tenants", "mountPath": "/etc/stellwerk"}]
    return {
        "groupName": "routers",
        "replicas": shape.routers, "minReplicas": shape.routers, "maxReplicas": shape.routers * 4,
        "rayStartParams": {"num-cpus": "0"},
        "template": {"metadata": {"labels": dict(ROUTER_LABEL), "annotations": dict(_OWN_COMMAND)},
                     "spec": {"containers": [container],
                              "volumes": [{"name": "tenants",
                                           "configMap": {"name": f"{shape.name}-tenants"}}]}},
    }


def helm_chart(serve_config: dict[str, Any], shape: ClusterShape) -> dict[str, str]:
    """A Helm chart as {relative path: file text}: the RayService and router Service as templates,
    with the Serve config, image and sizes in values.yaml."""
    service = rayservice(serve_config, shape)
    spec = service["spec"]["rayClusterConfig"]
    values = {"image": shape.image, "serveConfig": serve_config,
              "modelWorkers": {"replicas": shape.workers, "maxReplicas": shape.max_workers},
              "routers": {"replicas": shape.routers}}
    # Templates: the rendered objects with the values substituted where operators change them.
    spec["workerGroupSpecs"][0]["replicas"] = "__MODEL_REPLICAS__"
    spec["workerGroupSpecs"][0]["maxReplicas"] = "__MODEL_MAX__"
    spec["workerGroupSpecs"][1]["replicas"] = "__ROUTER_REPLICAS__"
    service["spec"]["serveConfigV2"] = "__SERVE_CONFIG__"
    text = dump_yaml(service)
    text = text.replace(f"image: {shape.image}", "image: {{ .Values.image | quote }}")
    text = (text.replace("__MODEL_REPLICAS__", "{{ .Values.modelWorkers.replicas }}")
            .replace("__MODEL_MAX__", "{{ .Values.modelWorkers.maxReplicas }}")
            .replace("__ROUTER_REPLICAS__", "{{ .Values.routers.replicas }}")
            .replace("__SERVE_CONFIG__", "|\n{{ toYaml .Values.serveConfig | indent 4 }}"))
    chart = {"apiVersion": "v2", "name": shape.name, "version": "0.1.0", "appVersion": "0.1.0",
             "description": "Stellwerk on KubeRay: model pools as a RayService, stateless routers."}
    return {"Chart.yaml": yaml.safe_dump(chart, sort_keys=False),
            "values.yaml": yaml.safe_dump(values, sort_keys=False),
            "templates/rayservice.yaml": text,
            "templates/router-service.yaml": yaml.safe_dump(router_service(shape), sort_keys=False)}
