"""``teacher demos`` records the v2 suite, and training refuses recordings it must not see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compass_nav import cli
from compass_nav.data import format as fmt
from compass_nav.learning.sequences import episodes_from_dataset
from compass_nav.utils.errors import DataError


def _record(out: Path, *extra: str) -> int:
    return cli.main(
        ["teacher", "demos", "--out", str(out), "--episodes", "1", "--num-envs", "1"]
        + ["--workers", "1", "--image-size", "16x16", "--quiet", *extra]
    )


def test_v2_demos_take_the_suites_routes_and_movers_and_the_command_replays_them(tmp_path):
    out = tmp_path / "v2"
    assert _record(out, "--suite", "v2", "--families", "warehouse") == 0
    meta = fmt.read_meta(out)
    sim = meta["sim_config"]
    assert (sim["suite"], sim["route_mode"], sim["moving_obstacles"]) == ("v2", "stale_map", 3)
    assert sim["families"] == ["warehouse"] and sim["split"] == "train"
    for flag in ("--suite v2", "--route-mode stale_map", "--moving-obstacles 3"):
        assert flag in meta["command"]
    # The defaults stay what v1 recordings always were.
    assert _record(tmp_path / "v1", "--families", "warehouse") == 0
    sim = fmt.read_meta(tmp_path / "v1")["sim_config"]
    assert (sim["suite"], sim["route_mode"], sim["moving_obstacles"]) == ("v1", "planned", 0)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--split", "validation", "--families", "hall"), "'validation' scene seeds"),
        (("--suite", "v2", "--route-mode", "planned", "--families", "hospital"), "'hospital'"),
    ],
)
def test_training_refuses_recordings_of_validation_or_held_out_scenes(tmp_path, extra, needle):
    out = tmp_path / "demos"
    assert _record(out, *extra) == 0  # recording them (for evaluation) is fine
    with pytest.raises(DataError, match=needle):
        next(episodes_from_dataset(out, progress=False))


def test_stale_map_recordings_train_the_path_head_on_the_driven_path(tmp_path):
    from compass_nav.data import DemoDataset
    from compass_nav.data.routes import driven_path

    out = tmp_path / "v2"
    assert _record(out, "--suite", "v2", "--families", "warehouse") == 0
    ep = next(episodes_from_dataset(out, progress=False))
    raw = DemoDataset(out)[0]
    meta = fmt.read_meta(out)
    np.testing.assert_array_equal(ep["route"], raw["route"])  # the stale route is the input
    expected = driven_path(
        raw["pose"], raw["final_pose"], meta["route_points"], meta["route_spacing"]
    )
    np.testing.assert_array_equal(ep["path"], expected)
    assert not np.allclose(ep["path"], ep["route"])  # the route ran through an obstacle
