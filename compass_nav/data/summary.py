"""Counts and outcome rates of a set of episodes, from their attributes only.

Used by :class:`compass_nav.data.dataset.DemoDataset.summary`, by the recorder to keep the
``counts`` of ``meta.json`` current and by ``compass-nav teacher info``. Kept free of torch so
the recorder stays light to import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["format_summary", "summarize_attrs"]


def summarize_attrs(attrs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts and outcome rates over episode attributes, overall and per embodiment/family.

    Returns:
        ``{"episodes", "steps", "success", "success_rate", "collision_rate", "timeout_rate",
        "spl", "by_embodiment": {name: {...}}, "by_family": {name: {...}}}`` where the
        per-group entries hold ``episodes``, ``steps``, ``success_rate``.
    """
    rows = list(attrs)

    def block(sel: list[Mapping[str, Any]]) -> dict[str, Any]:
        k = max(len(sel), 1)
        return {
            "episodes": len(sel),
            "steps": int(sum(a["length"] for a in sel)),
            "success": int(sum(bool(a["success"]) for a in sel)),
            "success_rate": sum(bool(a["success"]) for a in sel) / k,
            "collision_rate": sum(bool(a["collision"]) for a in sel) / k,
            "timeout_rate": sum(bool(a["timeout"]) for a in sel) / k,
            "spl": float(sum(a["spl"] for a in sel)) / k,
        }

    out = block(rows)
    for group, key in (("by_embodiment", "embodiment_name"), ("by_family", "family")):
        names = sorted({a[key] for a in rows})
        out[group] = {
            name: {
                k: v
                for k, v in block([a for a in rows if a[key] == name]).items()
                if k in ("episodes", "steps", "success_rate")
            }
            for name in names
        }
    return out


def format_summary(summary: Mapping[str, Any]) -> str:
    """Human-readable multi-line text of :func:`summarize_attrs`'s result."""
    lines = [
        f"episodes {summary['episodes']}  steps {summary['steps']}  "
        f"success {summary['success_rate']:.3f}  collision {summary['collision_rate']:.3f}  "
        f"timeout {summary['timeout_rate']:.3f}  SPL {summary['spl']:.3f}"
    ]
    for group in ("by_embodiment", "by_family"):
        lines.append(f"{group[3:]}:")
        for name, row in summary[group].items():
            lines.append(
                f"  {name:<12} episodes {row['episodes']:>6}  steps {row['steps']:>8}"
                f"  success {row['success_rate']:.3f}"
            )
    return "\n".join(lines)
