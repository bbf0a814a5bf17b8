"""The policy runtimes: state and batching, resizing, the loader, and every error path."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest

from compass_nav.contract.body import DESCRIPTOR_FIELDS, DESCRIPTOR_FIELDS_V1, get_embodiment
from compass_nav.policies import make_policy
from compass_nav.runtime import load_runtime
from compass_nav.runtime.errors import (
    BackendUnavailableError,
    InputError,
    MetadataError,
    ModelFileError,
    ProviderUnavailableError,
)
from compass_nav.runtime.factory import RuntimePolicy, open_runtime
from compass_nav.runtime.metadata import PREFIX, parse_metadata
from compass_nav.runtime.onnx_runtime import OnnxRuntime, available_providers
from compass_nav.runtime.preprocess import resize_image
from compass_nav.runtime.scripted import ScriptedRuntime
from compass_nav.runtime.tensorrt_runtime import (
    TensorRTRuntime,
    build_engine,
    tensorrt_missing,
)
from compass_nav.runtime.torch_runtime import TorchRuntime
from compass_nav.utils.errors import ConfigError


def _obs(b: int, hw: tuple[int, int], seed: int = 0, k: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = hw
    return {
        "rgb": rng.integers(0, 256, (b, h, w, 3), dtype=np.uint8),
        "depth": rng.uniform(0.2, 9.0, (b, h, w)).astype(np.float32),
        "speed": rng.normal(0, 0.3, (b, 3)).astype(np.float32),
        "route": np.cumsum(rng.uniform(0, 0.4, (b, k, 2)), 1).astype(np.float32),
        "goal": rng.normal(0, 2, (b, 3)).astype(np.float32),
        "embodiment": np.stack([get_embodiment("carter").descriptor()] * b),
    }


@pytest.fixture(scope="module")
def il_onnx(example_export):
    return example_export("il_base")


def _model_hw(rt) -> tuple[int, int]:
    return rt.spec.image_height, rt.spec.image_width


# ---------------------------------------------------------------------- state and batches
def test_reset_mask_clears_only_the_masked_rows(il_onnx):
    _, path = il_onnx
    rt, fresh = OnnxRuntime(path), OnnxRuntime(path)
    hw = _model_hw(rt)
    for t in range(3):
        rt.step(_obs(2, hw, seed=t))
    cont = OnnxRuntime(path)
    for t in range(3):
        cont.step(_obs(2, hw, seed=t))
    rt.reset(np.array([True, False]))
    obs = _obs(2, hw, seed=9)
    out = rt.step(obs)
    np.testing.assert_allclose(out.action[0], fresh.step(obs).action[0], atol=1e-6)
    np.testing.assert_allclose(out.action[1], cont.step(obs).action[1], atol=1e-6)
    assert not np.allclose(out.action[0], out.action[1])


def test_state_is_recurrent_and_full_reset_restarts(il_onnx):
    _, path = il_onnx
    rt = OnnxRuntime(path)
    obs = _obs(1, _model_hw(rt))
    first = rt.step(obs).action
    second = rt.step(obs).action
    assert not np.allclose(first, second)  # same input, different state
    rt.reset()
    np.testing.assert_allclose(rt.step(obs).action, first, atol=1e-7)


def test_batch_size_change_starts_fresh_state(il_onnx):
    _, path = il_onnx
    rt = OnnxRuntime(path)
    hw = _model_hw(rt)
    rt.step(_obs(3, hw))
    assert rt.batch_size == 3
    obs = _obs(2, hw, seed=4)
    np.testing.assert_allclose(rt.step(obs).action, OnnxRuntime(path).step(obs).action, atol=1e-7)
    with pytest.raises(InputError, match="reset mask: 3 rows"):
        rt.reset(np.ones(3, bool))


def test_torch_and_onnx_runtimes_agree_and_share_the_spec(il_onnx):
    ckpt, path = il_onnx
    a, b = TorchRuntime(ckpt.parent), OnnxRuntime(path)
    assert a.spec == b.spec and a.meta.inputs == b.meta.inputs
    for t in range(4):
        obs = _obs(3, (48, 40), seed=t)  # camera size differs from the model's: resized
        np.testing.assert_allclose(a.step(obs).action, b.step(obs).action, atol=1e-5)


# ---------------------------------------------------------------------- resizing
def test_camera_images_are_resized_with_the_shared_function(il_onnx):
    _, path = il_onnx
    rt, ref = OnnxRuntime(path), OnnxRuntime(path)
    h, w = _model_hw(rt)
    big = _obs(2, (96, 128), seed=5)
    small = dict(big)
    small["rgb"] = np.stack([resize_image(im, h, w) for im in big["rgb"]])
    small["depth"] = np.stack([resize_image(im, h, w) for im in big["depth"]])
    np.testing.assert_array_equal(rt.step(big).action, ref.step(small).action)


def test_resize_image_area_when_shrinking_linear_when_enlarging():
    import cv2

    img = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        resize_image(img, 15, 20), cv2.resize(img, (20, 15), interpolation=cv2.INTER_AREA)
    )
    np.testing.assert_array_equal(
        resize_image(img, 120, 160), cv2.resize(img, (160, 120), interpolation=cv2.INTER_LINEAR)
    )
    depth = np.ones((60, 80), np.float32)
    assert resize_image(depth, 15, 20).shape == (15, 20)
    assert resize_image(img, 60, 80) is img


# ---------------------------------------------------------------------- loader
def test_open_runtime_dispatches_on_the_spec(il_onnx):
    ckpt, path = il_onnx
    assert isinstance(open_runtime(str(path)), OnnxRuntime)
    assert isinstance(open_runtime(ckpt), TorchRuntime)
    assert isinstance(open_runtime(ckpt.parent), TorchRuntime)
    assert isinstance(open_runtime("goal_seeker"), ScriptedRuntime)
    assert isinstance(load_runtime("scripted:goal_seeker"), ScriptedRuntime)


def test_embodiment_descriptor_fills_observations_without_one(il_onnx):
    _, path = il_onnx
    with_body = open_runtime(path, embodiment="spot")
    ref = OnnxRuntime(path)
    obs = _obs(2, _model_hw(ref))
    obs["embodiment"] = np.stack([get_embodiment("spot").descriptor()] * 2)
    want = ref.step(obs).action
    del obs["embodiment"]
    np.testing.assert_allclose(with_body.step(obs).action, want, atol=1e-7)
    with pytest.raises(InputError, match="observation has no 'embodiment'"):
        OnnxRuntime(path).step(obs)


def test_onnx_path_is_a_policy_for_the_evaluator(il_onnx, small_episode):
    from compass_nav.evaluation import EvalConfig, evaluate

    _, path = il_onnx
    policy = make_policy(str(path))
    assert isinstance(policy, RuntimePolicy)
    cfg = EvalConfig(
        embodiments=("carter",),
        episode=small_episode(split="heldout", families=("hall",), max_episode_steps=15),
        episodes=2,
        num_envs=2,
        gifs=0,
    )
    result = evaluate(str(path), cfg, progress=False)
    assert len(result.records) == 2
    assert all(r["steps"] >= 1 for r in result.records)


# ---------------------------------------------------------------------- errors
def test_missing_file(tmp_path):
    for name in ("nope.onnx", "nope.engine", "nope.pt"):
        with pytest.raises(ModelFileError, match="does not exist"):
            open_runtime(tmp_path / name)


def test_garbage_file_is_not_onnx(tmp_path):
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(os.urandom(2048))
    with pytest.raises(ModelFileError, match="not an ONNX model or is corrupt"):
        OnnxRuntime(bad)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError):
        OnnxRuntime(empty)


@pytest.mark.parametrize(
    "key,obs_change,pattern",
    [
        (
            "route",
            lambda o: o.update(route=o["route"][:, :7]),
            r"input 'route': expected \(B, 10, 2\) float32 with B=2, got \(2, 7, 2\)",
        ),
        ("speed", lambda o: o.update(speed=o["speed"][:, :2]), r"input 'speed'.*got \(2, 2\)"),
        (
            "embodiment",
            lambda o: o.update(embodiment=o["embodiment"][:, :9]),
            rf"input 'embodiment': expected \(B, {len(DESCRIPTOR_FIELDS)}\)",
        ),
        ("goal", lambda o: o.pop("goal"), "no 'goal'"),
        ("depth", lambda o: o.pop("depth"), "observation has no 'depth'"),
        (
            "rgb-channels",
            lambda o: o.update(rgb=np.zeros((2, 32, 32, 4), np.uint8)),
            "an image with 4 channels",
        ),
        ("rgb-gray", lambda o: o.update(rgb=np.zeros((2, 32, 32), np.uint8)), "input 'rgb'"),
        (
            "rgb-float",
            lambda o: o.update(rgb=np.zeros((2, 32, 32, 3), np.float32)),
            "pass the camera's uint8 pixels",
        ),
        (
            "depth-int",
            lambda o: o.update(depth=np.zeros((2, 32, 32), np.uint16)),
            "convert integer depth",
        ),
        (
            "rgb-batch",
            lambda o: o.update(rgb=np.zeros((3, 32, 32, 3), np.uint8)),
            "batch 3 differs from the batch 2",
        ),
    ],
)
def test_wrong_inputs_name_the_input(il_onnx, key, obs_change, pattern):
    ckpt, path = il_onnx
    obs = _obs(2, (32, 32))
    obs_change(obs)
    for rt in (OnnxRuntime(path), TorchRuntime(ckpt)):
        with pytest.raises(InputError, match=pattern):
            rt.step(obs)


def _rewrite(src, dst, edit) -> None:
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    edit(props)
    del model.metadata_props[:]
    for k, v in props.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(model, str(dst))


def test_mismatched_metadata_is_refused(tmp_path, il_onnx):
    _, path = il_onnx
    cases = {
        "missing": (lambda p: p.pop(PREFIX + "io"), "metadata lacks compass_nav.io"),
        "none": (lambda p: p.clear(), "no compass_nav metadata at all"),
        "version": (
            lambda p: p.update({PREFIX + "format_version": "99"}),
            "format_version=99 is unknown",
        ),
        "schema": (
            lambda p: p.update({PREFIX + "descriptor_fields": '["max_vx", "warp_factor"]'}),
            "descriptor asks for unknown field\\(s\\) 'warp_factor'",
        ),
        "repeated": (
            lambda p: p.update({PREFIX + "descriptor_fields": onnx_fields_repeated()}),
            "repeated field\\(s\\) 'max_vx'",
        ),
        "kind": (
            lambda p: p.update({PREFIX + "model_kind": "teleporter"}),
            "model_kind='teleporter': unknown",
        ),
        "json": (lambda p: p.update({PREFIX + "input_spec": "{not json"}), "not valid JSON"),
        "io-graph": (
            lambda p: p.update(
                {PREFIX + "io": p[PREFIX + "io"].replace('"name": "goal"', '"name": "target"')}
            ),
            "metadata names input 'target'",
        ),
    }
    for name, (edit, pattern) in cases.items():
        bad = tmp_path / f"{name}.onnx"
        _rewrite(path, bad, edit)
        with pytest.raises(MetadataError, match=pattern):
            OnnxRuntime(bad)


def onnx_fields_repeated() -> str:
    import json

    fields = list(DESCRIPTOR_FIELDS_V1)
    fields[1] = fields[0]
    return json.dumps(fields)


def test_parse_metadata_requires_the_keys():
    with pytest.raises(MetadataError, match="lacks"):
        parse_metadata({PREFIX + "format_version": "1"}, "x.onnx")


def test_unavailable_provider_lists_the_available_ones(il_onnx):
    _, path = il_onnx
    have = available_providers()
    assert "CPUExecutionProvider" in have
    missing = next(
        p
        for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider")
        if p not in have
    )
    with pytest.raises(ProviderUnavailableError, match="available: .*CPUExecutionProvider"):
        OnnxRuntime(path, providers=[missing])
    rt = OnnxRuntime(path, providers=["cpu"])
    assert rt.session.get_providers() == ["CPUExecutionProvider"]


@pytest.mark.skipif(not tensorrt_missing(), reason="TensorRT and a CUDA GPU are present")
def test_tensorrt_missing_says_what_is_missing(tmp_path, il_onnx, capsys):
    from compass_nav.cli import main

    _, path = il_onnx
    with pytest.raises(BackendUnavailableError, match="needs TensorRT and a CUDA GPU: "):
        build_engine(path, cache=tmp_path)
    msg = "; ".join(tensorrt_missing())
    assert main(["export", "tensorrt", "--onnx", str(path)]) == 2
    assert msg in capsys.readouterr().err
    with pytest.raises(BackendUnavailableError):
        open_runtime(path, backend="tensorrt")


def test_engine_without_its_metadata_file(tmp_path):
    engine = tmp_path / "x.engine"
    engine.write_bytes(b"\0" * 16)
    with pytest.raises(MetadataError, match="x.engine.json is missing"):
        TensorRTRuntime(engine)


def test_unknown_scripted_name_and_runtime_options(il_onnx):
    _, path = il_onnx
    with pytest.raises(ConfigError, match="unknown policy 'no_such_policy'"):
        open_runtime("no_such_policy")
    with pytest.raises(ConfigError, match="unsupported runtime option"):
        open_runtime(path, warp_speed=9)


# ---------------------------------------------------------------------- shipped model
def test_shipped_default_model_loads_steps_and_is_documented():
    from compass_nav.runtime.factory import default_model
    from compass_nav.utils.paths import models_dir

    try:
        path = default_model()
    except ModelFileError:
        pytest.skip("no shipped default model in models/ yet")
    assert path.stat().st_size <= 20 * 1024 * 1024
    assert (models_dir() / "MODEL_CARD.md").is_file()
    rt = open_runtime(None)
    assert isinstance(rt, OnnxRuntime) and rt.path == path
    assert rt.meta.missing_provenance() == []
    # The shipped model predates the longer descriptor: it declares the original 15 fields
    # and is fed them by name out of today's full descriptor.
    assert rt.meta.spec.descriptor_fields == DESCRIPTOR_FIELDS_V1
    assert obs_width(_obs(1, (64, 64))) == len(DESCRIPTOR_FIELDS) > len(DESCRIPTOR_FIELDS_V1)
    obs = _obs(2, (64, 64), k=rt.spec.route_points)
    for _ in range(3):
        out = rt.step(obs)
    assert out.action.shape == (2, 3) and np.isfinite(out.action).all()
    assert out.path is not None and out.path.shape == (2, rt.spec.path_points, 2)


# ---------------------------------------------------------------------- non-finite values
def _runtimes(il_onnx):
    ckpt, path = il_onnx
    return OnnxRuntime(path), TorchRuntime(ckpt)


def test_non_finite_depth_reads_as_no_return(il_onnx):
    """NaN (32FC1's "no return") and +-inf depth pixels are the simulator's no-hit value 0:
    the action equals the one for a 0 there, and it is finite."""
    for rt, ref in zip(_runtimes(il_onnx), _runtimes(il_onnx), strict=True):
        obs, zero = _obs(2, (40, 48)), _obs(2, (40, 48))
        obs["depth"][0, :5, :7] = np.nan
        obs["depth"][1, 10, 10] = np.inf
        obs["depth"][1, 11, 11] = -np.inf
        zero["depth"][0, :5, :7] = 0.0
        zero["depth"][1, 10, 10] = zero["depth"][1, 11, 11] = 0.0
        got = rt.step(obs).action
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, ref.step(zero).action, atol=1e-6)


@pytest.mark.parametrize("key", ["speed", "goal", "route", "embodiment"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_vector_inputs_are_named_and_keep_the_state(il_onnx, key, value):
    from compass_nav.runtime.errors import InvalidObservationError

    for rt in _runtimes(il_onnx):
        hw = _model_hw(rt)
        rt.step(_obs(2, hw, seed=1))
        good = _obs(2, hw, seed=2)
        twin = type(rt)(il_onnx[1] if isinstance(rt, OnnxRuntime) else il_onnx[0])
        twin.step(_obs(2, hw, seed=1))
        bad = _obs(2, hw, seed=2)
        bad[key].reshape(2, -1)[1, 0] = value
        with pytest.raises(InvalidObservationError, match=rf"input '{key}'.*row 1"):
            rt.step(bad)
        # The failed step changed nothing: the state is the one the last good step left.
        np.testing.assert_allclose(rt.step(good).action, twin.step(good).action, atol=1e-7)


def test_batch_size_zero_is_a_named_error(il_onnx):
    for rt in _runtimes(il_onnx):
        obs = {k: v[:0] for k, v in _obs(1, (40, 48)).items()}
        with pytest.raises(InputError, match="batch size 0"):
            rt.step(obs)


def test_non_finite_model_output_is_an_error_and_keeps_the_state(il_onnx):
    """A model whose outputs turn non-finite raises by name; the previous state stays."""
    import torch

    from compass_nav.runtime.errors import NonFiniteOutputError
    from compass_nav.runtime.sources import load_exportable

    ckpt, _ = il_onnx
    module = load_exportable(ckpt)
    rt = TorchRuntime(module)
    hw = _model_hw(rt)
    rt.step(_obs(1, hw, seed=1))
    before = {k: v.copy() for k, v in rt._state.items()}
    with torch.no_grad():
        saved = [p.clone() for p in module.parameters()]
        for p in module.parameters():
            p.fill_(float("nan"))
    with pytest.raises(NonFiniteOutputError, match="not finite"):
        rt.step(_obs(1, hw, seed=2))
    assert all(np.array_equal(before[k], rt._state[k]) for k in before)
    with torch.no_grad():
        for p, s in zip(module.parameters(), saved, strict=True):
            p.copy_(s)
    assert np.isfinite(rt.step(_obs(1, hw, seed=2)).action).all()


def obs_width(obs: dict) -> int:
    """Width of an observation's embodiment descriptor."""
    return int(obs["embodiment"].shape[-1])


def test_shipped_model_drives_new_kinds_with_the_longer_descriptor():
    """models/default.onnx (15 fields) runs on a full descriptor of every new kind of body,
    and gets exactly the entries it declares, by name."""
    from compass_nav.runtime.factory import default_model

    try:
        path = default_model()
    except ModelFileError:
        pytest.skip("no shipped default model in models/ yet")
    for body in ("rover", "tracker", "minibot", "crawler", "tallbot"):
        rt = open_runtime(path, body)
        spec = get_embodiment(body)
        want = spec.descriptor(rt.meta.spec.descriptor_fields)
        np.testing.assert_array_equal(rt._defaults["embodiment"], want)
        obs = _obs(2, (64, 64), k=rt.spec.route_points)
        obs["embodiment"] = np.stack([spec.descriptor()] * 2)
        out = rt.step(obs)
        assert out.action.shape == (2, 3) and np.isfinite(out.action).all()
        # Within the body's limits (the graph clips to the descriptor's limits).
        assert (out.action[:, 0] <= spec.max_vx + 1e-5).all()
