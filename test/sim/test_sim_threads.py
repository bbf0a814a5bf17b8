"""The simulator's threading: the default layer, and results that do not depend on threads.

Each case runs in a fresh interpreter, because numba fixes its threading layer and pool size
when its first parallel kernel runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# Steps the same seeds with one and with two numba threads; saves every observation.
_STEP_SCRIPT = """
import sys

import numba  # loaded before compass_nav on purpose: the layer must still be the default

import numpy as np

from compass_nav.sim.env import NavVectorEnv

out = {}
for threads in (1, 2):
    numba.set_num_threads(threads)
    env = NavVectorEnv(
        num_envs=6, embodiments=("carter", "spot", "h1"), image_height=24, image_width=32
    )
    obs, _ = env.reset(seed=7)
    rng = np.random.default_rng(0)
    for t in range(10):
        for key, value in obs.items():
            out[f"{threads}/{t}/{key}"] = value
        obs, *_ = env.step(rng.uniform(-1.0, 1.0, (6, 3)).astype(np.float32))
    env.close()
np.savez(sys.argv[1], layer=numba.threading_layer(), **out)
"""


def _step(tmp_path, layer: str | None) -> dict[str, np.ndarray]:
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    env.pop("NUMBA_THREADING_LAYER", None)
    if layer is not None:
        env["NUMBA_THREADING_LAYER"] = layer
    path = tmp_path / f"{layer}.npz"
    subprocess.run([sys.executable, "-c", _STEP_SCRIPT, str(path)], env=env, check=True)
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _assert_same_for_both_thread_counts(run: dict[str, np.ndarray]) -> None:
    keys = [k for k in run if k.startswith("1/")]
    assert len(keys) == 10 * 6  # 10 steps x rgb, depth, speed, route, goal, embodiment
    for key in keys:
        np.testing.assert_array_equal(run[key], run["2" + key[1:]], err_msg=key)


def test_default_layer_is_workqueue_and_results_do_not_depend_on_threads(tmp_path):
    run = _step(tmp_path, None)
    assert str(run["layer"]) == "workqueue"
    _assert_same_for_both_thread_counts(run)


@pytest.mark.slow
def test_openmp_layer_gives_the_same_results(tmp_path):
    default = _step(tmp_path, None)
    omp = _step(tmp_path, "omp")
    assert str(omp["layer"]) == "omp"
    _assert_same_for_both_thread_counts(omp)
    for key in default:
        if key != "layer":
            np.testing.assert_array_equal(default[key], omp[key], err_msg=key)


def test_envs_stepped_from_two_threads_take_turns(tmp_path):
    # Without the env's kernel lock numba's workqueue layer aborts the whole process here.
    script = textwrap.dedent(
        """
        import threading

        import numpy as np

        from compass_nav.sim.env import NavVectorEnv

        def run(out, key):
            env = NavVectorEnv(
                num_envs=4, embodiments=("carter", "spot"), image_height=24, image_width=32
            )
            env.reset(seed=5)
            rng = np.random.default_rng(1)
            frames = []
            for _ in range(15):
                obs, *_ = env.step(rng.uniform(-1, 1, (4, 3)).astype(np.float32))
                frames.append(obs["rgb"].copy())
            out[key] = np.stack(frames)

        out = {}
        run(out, "alone")
        threads = [threading.Thread(target=run, args=(out, k)) for k in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(out) == ["a", "alone", "b"], sorted(out)
        assert np.array_equal(out["a"], out["alone"]) and np.array_equal(out["b"], out["alone"])
        """
    )
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    env.pop("NUMBA_THREADING_LAYER", None)
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
