"""ONNX export of every policy kind: checker, names, dynamic batch, metadata, parity."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from compass_nav.cli import main
from compass_nav.contract.body import DESCRIPTOR_FIELDS, get_embodiment
from compass_nav.export.onnx_export import OPSET, export_onnx
from compass_nav.export.parity import record, replay
from compass_nav.runtime.errors import ModelFileError
from compass_nav.runtime.factory import RuntimePolicy
from compass_nav.runtime.metadata import PROVENANCE_KEYS
from compass_nav.runtime.onnx_runtime import OnnxRuntime, read_onnx_metadata
from compass_nav.runtime.sources import load_exportable
from compass_nav.runtime.torch_runtime import TorchRuntime
from compass_nav.utils.errors import ConfigError, ModelError


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_export_passes_checker_with_named_tensors_and_dynamic_batch(example_export, kind):
    ckpt, path = example_export(kind)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    opset = {o.domain: o.version for o in model.opset_import}
    assert opset.get("", opset.get("ai.onnx")) == OPSET
    module = load_exportable(ckpt)
    assert [i.name for i in model.graph.input] == module.input_names()
    assert [o.name for o in model.graph.output] == module.output_names()
    for vi in list(model.graph.input) + list(model.graph.output):
        dims = _dims(vi)
        assert isinstance(dims[0], str) and dims[0], f"{vi.name}: batch axis is not symbolic"
        assert all(isinstance(d, int) and d > 0 for d in dims[1:]), f"{vi.name}: {dims}"
    rgb = next(i for i in model.graph.input if i.name == "rgb")
    assert rgb.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert _dims(rgb)[1:] == [module.cfg.image_height, module.cfg.image_width, 3]


def test_metadata_round_trip(example_export, kind):
    ckpt, path = example_export(kind)
    module = load_exportable(ckpt)
    meta = read_onnx_metadata(path)
    want = module.metadata()
    assert meta.kind == kind == want.kind
    assert meta.spec == want.spec
    assert meta.spec.descriptor_fields == DESCRIPTOR_FIELDS
    assert meta.inputs == want.inputs and meta.outputs == want.outputs
    assert meta.state == want.state == (("prev_action", "action"), ("h", "h_new"), ("z", "z_new"))
    assert meta.missing_provenance() == []
    assert set(PROVENANCE_KEYS) <= set(meta.extra)
    assert meta.extra["training_config"] == module.training_config()
    assert meta.extra["source"]["sha256"] == module.source_info()["sha256"]
    assert meta.extra["versions"]["opset"] == str(OPSET)
    assert meta.extra["versions"]["torch"] == torch.__version__
    assert meta.extra["command"] == f"export_example({kind!r})"
    assert meta.extra["git_commit"]
    # Writing the parsed metadata back gives the same key/value pairs as the file holds.
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta.to_props() == {k: v for k, v in props.items() if k.startswith("compass_nav.")}


def _batch(meta, b: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    bodies = ["carter", "spot", "h1", "omnibase", "g1"]
    h, w = meta.spec.image_height, meta.spec.image_width
    return {
        "rgb": rng.integers(0, 256, (b, h, w, 3), dtype=np.uint8),
        "depth": rng.uniform(0.2, 9.0, (b, h, w)).astype(np.float32),
        "speed": rng.normal(0, 0.3, (b, 3)).astype(np.float32),
        "route": np.cumsum(rng.uniform(0, 0.4, (b, meta.spec.route_points, 2)), 1).astype(
            np.float32
        ),
        "goal": rng.normal(0, 2, (b, 3)).astype(np.float32),
        "embodiment": np.stack([get_embodiment(bodies[i % 5]).descriptor() for i in range(b)]),
    }


def test_dynamic_batch_one_export_runs_batch_1_and_5(example_export, kind):
    ckpt, path = example_export(kind)
    onnx_rt, torch_rt = OnnxRuntime(path), TorchRuntime(ckpt)
    obs5 = _batch(onnx_rt.meta, 5, seed=1)
    for _ in range(3):  # a few recurrent steps
        a, b = onnx_rt.step(obs5), torch_rt.step(obs5)
        assert a.action.shape == (5, 3) and a.path.shape == (5, onnx_rt.spec.path_points, 2)
        np.testing.assert_allclose(a.action, b.action, atol=1e-4, rtol=0)
    single = OnnxRuntime(path)
    obs1 = {k: v[2:3] for k, v in obs5.items()}
    fresh5 = OnnxRuntime(path)
    np.testing.assert_allclose(
        single.step(obs1).action[0], fresh5.step(obs5).action[2], atol=1e-5, rtol=0
    )


def test_actions_stay_within_the_body_limits(example_export, kind):
    _, path = example_export(kind)
    rt = OnnxRuntime(path)
    obs = _batch(rt.meta, 5, seed=2)
    obs["goal"] *= 50.0  # far goals, large speeds: push the network towards saturation
    obs["speed"] *= 20.0
    d = obs["embodiment"]
    low = np.stack([d[:, 1], -d[:, 2], -d[:, 3]], 1)
    high = np.stack([d[:, 0], d[:, 2], d[:, 3]], 1)
    for _ in range(4):
        act = rt.step(obs).action
        assert np.all(act >= low - 1e-6) and np.all(act <= high + 1e-6)


def test_residual_composition_is_in_the_graph(example_export):
    """A specialist's exported action differs from its base's: base + residual, clipped."""
    ckpt, path = example_export("specialist")
    spec_rt = OnnxRuntime(path)
    base_only = load_exportable(ckpt)
    base_only.policy = base_only.policy.base  # same weights, no residual head
    base_rt = TorchRuntime(base_only)
    obs = _batch(spec_rt.meta, 4, seed=3)
    diff = np.abs(spec_rt.step(obs).action - base_rt.step(obs).action).max()
    assert diff > 1e-3


@pytest.fixture(scope="module")
def recording(example_export):
    """104 steps x 2 envs driven by the example IL base (every kind reads 16x16 images)."""
    ckpt, _ = example_export("il_base")
    module = load_exportable(ckpt)
    spec = module.input_spec()
    return record(
        RuntimePolicy(TorchRuntime(module)),
        steps=104,
        num_envs=2,
        families=("hall", "office"),
        image_hw=(spec.image_height, spec.image_width),
    )


@pytest.mark.parametrize("reset_at_starts", [True, False], ids=["episodes", "chain"])
def test_parity_over_recorded_episodes(example_export, kind, recording, reset_at_starts):
    ckpt, path = example_export(kind)
    module = load_exportable(ckpt)
    assert module.input_spec().image_height == recording.obs[0]["rgb"].shape[1]
    rep = replay(TorchRuntime(module), OnnxRuntime(path), recording, reset_at_starts)
    assert rep.steps == 104 and rep.envs == 2
    if not reset_at_starts:
        assert rep.longest_run == 104  # one recurrent chain of 100+ steps per env
    assert rep.max_abs_action <= 1e-4
    assert rep.max_abs_path <= 1e-4


def test_export_errors(tmp_path, example_export):
    ckpt, _ = example_export("il_base")
    with pytest.raises(ModelFileError, match="does not exist"):
        load_exportable(tmp_path / "nope.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError, match="not a readable checkpoint"):
        load_exportable(tmp_path / "garbage.pt")
    torch.save({"kind": "mystery", "x": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="kind='mystery' has no exporter; known kinds"):
        load_exportable(tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="must end in .onnx"):
        export_onnx(load_exportable(ckpt), tmp_path / "model.bin")
    with pytest.raises(ConfigError, match="opset=17"):
        export_onnx(load_exportable(ckpt), tmp_path / "old.onnx", opset=17)
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(ModelFileError, match="training not finished"):
        load_exportable(tmp_path / "empty_run")


def test_cli_exports_a_run_folder_and_checks_parity(tmp_path, example_export, capsys):
    ckpt, _ = example_export("il_base")
    out = tmp_path / "cli.onnx"
    report = tmp_path / "report.json"
    code = main(
        [
            "export",
            "onnx",
            "--checkpoint",
            str(ckpt.parent),
            "--out",
            str(out),
            "--parity-steps",
            "12",
            "--parity-envs",
            "2",
            "--report",
            str(report),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "onnx.checker passed" in text and "-> OK" in text
    meta = read_onnx_metadata(out)
    assert meta.extra["command"] == (
        f"compass-nav export onnx --checkpoint {ckpt.parent} --out {out} --opset {OPSET}"
    )
    assert report.is_file()
    assert main(["export", "show", str(out)]) == 0
    assert "compass_nav.model_kind" in capsys.readouterr().out


def test_cli_usage_errors_exit_2(tmp_path, capsys):
    assert main(["export", "onnx", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "--checkpoint" in capsys.readouterr().err
    assert main(["export", "tensorrt"]) == 2
    assert "--onnx" in capsys.readouterr().err


def _nan_module(example_export):
    """The example IL base with one NaN weight: every output it computes is NaN."""
    module = load_exportable(example_export("il_base")[0])
    with torch.no_grad():
        next(p for p in module.parameters() if p.ndim > 1).view(-1)[0] = float("nan")
    return module


def test_export_self_check_fails_on_nan_outputs(tmp_path, example_export):
    """NaN outputs agree with nothing: no "max |diff| 0" and no file written."""
    with pytest.raises(ModelError, match="not finite"):
        export_onnx(_nan_module(example_export), tmp_path / "nan.onnx")
    assert not (tmp_path / "nan.onnx").exists()


def test_parity_fails_on_nan_outputs(example_export, recording):
    """A runtime whose actions are NaN is not at parity with a sound one."""
    _, path = example_export("il_base")
    with pytest.raises(ModelError, match="not finite"):
        replay(TorchRuntime(_nan_module(example_export)), OnnxRuntime(path), recording)


def test_cli_export_of_a_nan_checkpoint_fails(tmp_path, example_export, capsys):
    ckpt, _ = example_export("il_base")
    payload = torch.load(ckpt, weights_only=True)
    name = next(k for k, v in payload["model"].items() if v.is_floating_point() and v.ndim > 1)
    payload["model"][name].view(-1)[0] = float("nan")
    torch.save(payload, tmp_path / "nan.pt")
    out = tmp_path / "nan.onnx"
    code = main(["export", "onnx", "--checkpoint", str(tmp_path / "nan.pt"), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert "compass-nav: error:" in captured.err and "not finite" in captured.err
    assert "max |diff| 0" not in captured.out and not out.exists()


def test_parity_of_a_base_that_reads_the_body(tmp_path, recording):
    """A multi-body IL base (``body_dim`` > 0) exports with the descriptor inside the graph."""
    from compass_nav.export.examples import _il_base
    from compass_nav.export.onnx_export import export_onnx

    ckpt = _il_base(tmp_path, seed=1, body_dim=8)
    module = load_exportable(ckpt)
    assert module.cfg.body_dim == 8
    path = tmp_path / "bodies.onnx"
    export_onnx(module, path, command="test")
    rep = replay(TorchRuntime(module), OnnxRuntime(path), recording, reset_at_starts=False)
    assert rep.steps == 104 and rep.max_abs_action <= 1e-4 and rep.max_abs_path <= 1e-4
