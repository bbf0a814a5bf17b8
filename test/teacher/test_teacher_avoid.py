"""Geometry of the teacher's moving-obstacle check (``compass_nav.teacher.avoid``)."""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.teacher.avoid import AvoidConfig, _actor_gap
from compass_nav.utils.errors import ConfigError

# Body: 1.0 x 0.6 m rectangle at the origin facing +x (half-sides 0.5, 0.3).
BODY = (0.0, 0.0, 0.0, 0.5, 0.3)


def test_person_gap_is_disc_to_rectangle():
    person = np.array([0.3, 0.0, 0.0, 0.0])
    assert _actor_gap(person, 2.0, 0.0, *BODY) == pytest.approx(2.0 - 0.5 - 0.3)
    assert _actor_gap(person, 0.0, 1.5, *BODY) == pytest.approx(1.5 - 0.3 - 0.3)


def test_cart_gap_uses_its_rectangle_not_its_disc():
    # A 1.0 x 0.6 cart broadside 1.0 m ahead of the body's front, its long side along y.
    cart = np.array([np.hypot(0.5, 0.3), 0.5, 0.3, np.pi / 2])
    assert _actor_gap(cart, 1.8, 0.0, *BODY) == pytest.approx(1.8 - 0.5 - 0.3)
    # Corner to corner along the diagonal.
    along = np.array([np.hypot(0.5, 0.3), 0.5, 0.3, 0.0])
    assert _actor_gap(along, 2.0, 1.0, *BODY) == pytest.approx(np.hypot(1.0, 0.4))
    # Overlapping: no gap.
    assert _actor_gap(along, 0.5, 0.2, *BODY) == 0.0


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="static_horizon"):
        AvoidConfig(horizon=1.0, static_horizon=2.0)
    with pytest.raises(ConfigError, match="margin"):
        AvoidConfig(margin=-0.1)
