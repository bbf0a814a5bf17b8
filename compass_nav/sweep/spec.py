"""A sweep spec (YAML) and its expansion into cells: policy x body x family x route x seed.

:class:`SweepSpec` is resolved by :func:`compass_nav.utils.config.resolve_config` from the
file given to ``compass-nav sweep run`` (and ``--set`` overrides); :func:`expand` turns it
into :class:`Cell` s, each one task of :mod:`compass_nav.sweep.engine` and one file of the
results folder. A cell's :meth:`Cell.fingerprint` is what decides whether a stored result
may be reused: the policy's content (the SHA-256 of its files, or the spec name of a
scripted policy), the body's data, every evaluation setting, the code version and the
backend.

Random bodies (``random:<n>``) are drawn here, deterministically from ``body_seed``, by the
procedural generator (:mod:`compass_nav.contract.body_generator`): a kind, then the fields
that kind allows, inside the documented envelope (docs/EMBODIMENTS.md). They travel as
data inside the cell and are registered by name in the
process that evaluates them (:func:`compass_nav.contract.body.register_embodiment`).
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from compass_nav.contract.body import (
    EmbodimentSpec,
    get_embodiment,
    list_embodiments,
)
from compass_nav.utils.config import check
from compass_nav.utils.errors import ConfigError

__all__ = ["BACKENDS", "Cell", "SweepSpec", "code_version", "expand", "random_bodies"]

#: Simulators a sweep can run on; only the embedded one exists so far.
BACKENDS = ("embedded",)

_GLOB_CHARS = re.compile(r"[*?\[]")
_RANDOM = re.compile(r"^random:(\d+)$")
_SCHEME = re.compile(r"^[a-z_]+:")
#: Files whose content identifies a policy given as a folder.
_MODEL_SUFFIXES = (".pt", ".onnx", ".engine", ".plan")


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """What a sweep evaluates.

    Attributes:
        policies: Policy specs (``teacher``, ``goal_seeker``, model files, run folders) or
            glob patterns of files (``runs/il/checkpoints/step_*.pt``), expanded sorted.
        bodies: Body names, the groups ``all``/``train``/``heldout``, YAML paths, or
            ``random:<n>`` (n bodies sampled from ``body_seed``; see the module doc).
        families: Scene families.
        route_modes: ``planned`` and/or ``mapless``.
        episodes: Episodes per cell.
        seeds: Episode-set seeds; each is its own cell.
        split: Scene seeds: ``validation`` (the default: a sweep compares policies and
            checkpoints, which is choosing), ``heldout`` (a final figure, once the choice is
            made; the report then says its "best" table is not for choosing) or ``train``.
        backend: Simulator: ``embedded`` (the only one so far).
        image_height, image_width: Camera size the policy sees.
        max_steps: Episode time limit in 10 Hz steps.
        body_seed: Seed of the ``random:<n>`` bodies.
    """

    policies: tuple[str, ...] = ("teacher",)
    bodies: tuple[str, ...] = ("carter",)
    families: tuple[str, ...] = ("warehouse", "office", "hall")
    route_modes: tuple[str, ...] = ("planned",)
    episodes: int = 20
    seeds: tuple[int, ...] = (0,)
    split: str = "validation"
    backend: str = "embedded"
    image_height: int = 64
    image_width: int = 64
    max_steps: int = 300
    body_seed: int = 0

    def __post_init__(self) -> None:
        for f in ("policies", "bodies", "families", "route_modes", "seeds"):
            value = tuple(getattr(self, f))
            object.__setattr__(self, f, value)
            check(len(value) >= 1, f, value, "must not be empty")
            check(len(set(value)) == len(value), f, value, "must not repeat an entry")
        check(
            self.backend in BACKENDS,
            "backend",
            self.backend,
            f"unknown; available backends: {', '.join(BACKENDS)}",
        )
        check(self.episodes >= 1, "episodes", self.episodes, "must be >= 1")
        check(all(s >= 0 for s in self.seeds), "seeds", self.seeds, "must be >= 0")
        check(self.body_seed >= 0, "body_seed", self.body_seed, "must be >= 0")
        for f in ("image_height", "image_width"):
            check(getattr(self, f) >= 8, f, getattr(self, f), "must be >= 8")
        check(self.max_steps >= 1, "max_steps", self.max_steps, "must be >= 1")
        for b in self.bodies:
            m = _RANDOM.match(b)
            if b.startswith("random"):
                check(bool(m) and int(m.group(1)) >= 1, "bodies", b, "expected random:<n>, n >= 1")
        # The episode fields are checked by the simulator's own spec.
        for mode in self.route_modes:
            self.episode_spec(self.families, mode)

    def episode_spec(self, families: tuple[str, ...], route_mode: str):
        """The :class:`~compass_nav.sim.config.EpisodeSpec` of some families and a route."""
        from compass_nav.sim.config import EpisodeSpec

        return EpisodeSpec(
            families=tuple(families),
            split=self.split,
            route_mode=route_mode,
            image_height=self.image_height,
            image_width=self.image_width,
            max_episode_steps=self.max_steps,
        )


@dataclasses.dataclass(frozen=True)
class Cell:
    """One evaluation task: a policy on one body, family, route mode and seed.

    Attributes:
        policy: The policy as the report names it (the spec or the matched file).
        load: What the evaluating process passes to ``make_policy`` (files made absolute,
            so a worker with another working folder finds them).
        policy_key: The policy's identity in the fingerprint: SHA-256 of its file(s), or
            the spec of a scripted policy.
        body: Body name.
        body_spec: The body's data (every field); a random body is rebuilt from it.
        family, route_mode, seed, episodes, split, image_height, image_width, max_steps,
        backend: The evaluation settings.
    """

    policy: str
    load: str
    policy_key: str
    body: str
    body_spec: dict[str, Any]
    family: str
    route_mode: str
    seed: int
    episodes: int
    split: str
    image_height: int
    image_width: int
    max_steps: int
    backend: str = "embedded"
    generated_body: bool = False

    def eval_config(self):
        """The :class:`~compass_nav.evaluation.EvalConfig` of this cell (one process)."""
        from compass_nav.evaluation import EvalConfig
        from compass_nav.sim.config import EpisodeSpec

        return EvalConfig(
            embodiments=(self.body,),
            episode=EpisodeSpec(
                families=(self.family,),
                split=self.split,
                route_mode=self.route_mode,
                image_height=self.image_height,
                image_width=self.image_width,
                max_episode_steps=self.max_steps,
            ),
            episodes=self.episodes,
            seed=self.seed,
            workers=1,
            gifs=0,
        )

    @property
    def cell_id(self) -> str:
        """File-name-safe, readable and unique: slugs plus a hash of the cell's identity."""
        ident = json.dumps(
            [self.policy, self.body, self.family, self.route_mode, self.seed], sort_keys=True
        )
        h = hashlib.sha256(ident.encode()).hexdigest()[:8]
        stem = Path(self.policy).stem if ("/" in self.policy) else self.policy
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:40]
        return f"{slug}__{self.body}__{self.family}__{self.route_mode}__s{self.seed}__{h}"

    def fingerprint(self, version: str | None = None) -> str:
        """SHA-256 of everything the cell's result depends on (see the module doc)."""
        data = dataclasses.asdict(self)
        del data["load"]  # where the file lies does not change its result; its content does
        data["code_version"] = code_version() if version is None else version
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def register_body(self) -> None:
        """Make a generated body known in this process (before evaluating the cell)."""
        if self.generated_body:
            from compass_nav.contract.body import register_embodiment

            register_embodiment(EmbodimentSpec(**self.body_spec))


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``<package version>+<git commit>``, or the package version outside a git checkout.

    Uncommitted changes are not seen: a developer changing the simulator between two runs
    of one sweep deletes the results folder (or its ``cells/``).
    """
    from compass_nav import __version__

    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+{commit}"


def random_bodies(n: int, seed: int) -> list[EmbodimentSpec]:
    """``n`` bodies ``random_000``... drawn from the documented envelope (held out).

    Body ``i`` is :func:`compass_nav.contract.body_generator.generate_body` ``(seed, i)``
    under the sweep's name: the same draw as ``random-s<seed>-i<i>`` on ``--embodiments``.
    """
    from compass_nav.contract.body_generator import generate_body

    return [
        dataclasses.replace(
            generate_body(seed, i),
            name=f"random_{i:03d}",
            split="heldout",
            description=f"random {generate_body(seed, i).kind} body {i} of seed {seed}",
        )
        for i in range(n)
    ]


def _policy_key(load: str) -> str:
    p = Path(load)
    if p.is_file():
        from compass_nav.utils.files import file_sha256

        return "sha256:" + file_sha256(p)
    if p.is_dir():
        from compass_nav.utils.files import file_sha256

        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in _MODEL_SUFFIXES)
        check(bool(files), "policies", load, "a folder without model files")
        listing = [[str(f.relative_to(p)), file_sha256(f)] for f in files]
        return "sha256:" + hashlib.sha256(json.dumps(listing).encode()).hexdigest()
    return "spec:" + load


def _policies(entries: tuple[str, ...]) -> list[tuple[str, str]]:
    """(label, load) of each policy: globs expanded sorted, paths made absolute."""
    from compass_nav.contract.policy import check_policy_spec

    out: list[tuple[str, str]] = []
    for entry in entries:
        # ``scheme:...`` specs (``degraded:teacher?noise=0.3``) are not file patterns.
        if _GLOB_CHARS.search(entry) and not _SCHEME.match(entry):
            matches = sorted(glob.glob(entry))
            check(bool(matches), "policies", entry, "the pattern matches no file")
        else:
            matches = [entry]
        for m in matches:
            load = str(Path(m).resolve()) if Path(m).exists() else m
            check_policy_spec(load)
            if all(m != label for label, _ in out):
                out.append((m, load))
    return out


def _bodies(entries: tuple[str, ...], seed: int) -> list[tuple[EmbodimentSpec, bool]]:
    out: list[tuple[EmbodimentSpec, bool]] = []
    names: set[str] = set()

    def add(spec: EmbodimentSpec, generated: bool) -> None:
        if spec.name not in names:
            names.add(spec.name)
            out.append((spec, generated))

    for entry in entries:
        m = _RANDOM.match(entry)
        if m:
            for spec in random_bodies(int(m.group(1)), seed):
                add(spec, True)
        elif entry in ("all", "train", "heldout"):
            for name in list_embodiments(None if entry == "all" else entry):
                add(get_embodiment(name), False)
        else:
            spec = get_embodiment(entry)  # ConfigError naming the known bodies
            if "/" in entry or entry.endswith((".yaml", ".yml")):
                # A user's file travels as data, named by its stem.
                check(
                    spec.name not in list_embodiments(),
                    "bodies",
                    entry,
                    f"a registered body is named {spec.name!r}: rename the file",
                )
                add(spec, True)
            else:
                add(spec, False)
    return out


def expand(spec: SweepSpec) -> list[Cell]:
    """The cells of ``spec``, ordered policy, body, family, route mode, seed.

    Raises:
        ConfigError: A policy nothing knows, a glob without matches, an unknown body.
    """
    cells = []
    for label, load in _policies(spec.policies):
        key = _policy_key(load)
        for body, generated in _bodies(spec.bodies, spec.body_seed):
            for family in spec.families:
                for mode in spec.route_modes:
                    for seed in spec.seeds:
                        cells.append(
                            Cell(
                                policy=label,
                                load=load,
                                policy_key=key,
                                body=body.name,
                                body_spec=body.to_dict(),
                                family=family,
                                route_mode=mode,
                                seed=int(seed),
                                episodes=spec.episodes,
                                split=spec.split,
                                image_height=spec.image_height,
                                image_width=spec.image_width,
                                max_steps=spec.max_steps,
                                backend=spec.backend,
                                generated_body=generated,
                            )
                        )
    ids = [c.cell_id for c in cells]
    if len(set(ids)) != len(ids):
        raise ConfigError("policies: two entries give the same cells (listed twice?)")
    return cells
