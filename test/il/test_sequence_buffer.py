"""The flat episode buffer: growing in place gives the same windows as one concatenation."""

from __future__ import annotations

import numpy as np

from compass_nav.learning.sequences import FIELDS, SequenceBuffer


def _episode(n: int, tag: int) -> dict[str, np.ndarray]:
    shapes = {"rgb": (4, 4, 3), "depth": (4, 4), "route": (3, 2), "route_mapless": (3, 2)}
    shapes |= {"path": (3, 2), "embodiment": (5,)}
    ep = {}
    for k, (dtype, _) in FIELDS.items():
        shape = (n,) + shapes.get(k, (3,))
        ep[k] = (np.arange(np.prod(shape)).reshape(shape) + 1000 * tag).astype(dtype)
    return ep


def test_reserved_and_grown_buffers_sample_the_same_windows(monkeypatch):
    eps = [_episode(n, i) for i, n in enumerate((7, 30, 12, 5, 40, 9))]
    monkeypatch.setattr(SequenceBuffer, "FLUSH_STEPS", 20)
    plain, reserved = SequenceBuffer(), SequenceBuffer()
    reserved.reserve(49)
    plain.add(eps[:3])
    reserved.add(eps[:3])
    plain.sample(np.random.default_rng(0), 2, 4, 0.5)  # consolidates, then grows below
    for buf in (plain, reserved):
        buf.add(eps[3:])  # beyond the reserve and its headroom: the arrays grow
        assert len(buf) == 103 and buf.num_episodes == 6
    a = plain.sample(np.random.default_rng(1), 16, 5, 0.5)
    b = reserved.sample(np.random.default_rng(1), 16, 5, 0.5)
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)
    # Every sampled window comes from the real steps, never the spare capacity.
    starts = a["speed"][:, 0, 0].numpy()
    all_speed = np.concatenate([e["speed"][:, 0] for e in eps])
    assert np.isin(starts, all_speed).all()
