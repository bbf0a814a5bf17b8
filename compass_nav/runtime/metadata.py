"""The metadata contract of an exported policy: written by the exporter, checked by runtimes.

An exported model (ONNX ``metadata_props``; for a TensorRT engine, the JSON file next to it)
carries string key/value pairs under the ``compass_nav.`` prefix. :class:`ModelMetadata` is
the typed view of them: :meth:`ModelMetadata.to_props` is what
:func:`compass_nav.export.onnx_export.export_onnx` writes and :func:`parse_metadata` is what
every runtime backend reads, so the schema lives in exactly one place. No torch or
onnxruntime import here: the ROS node and the CPU runtime load this module.

Keys (values are strings; JSON where structured):
    ``compass_nav.format_version``  ``"1"`` (:data:`FORMAT_VERSION`).
    ``compass_nav.model_kind``      one of :data:`MODEL_KINDS`.
    ``compass_nav.input_spec``      JSON of :class:`~compass_nav.contract.spec.InputSpec` minus
                                    the descriptor fields (image size, streams, route points,
                                    control rate, path points).
    ``compass_nav.descriptor_fields``  JSON list: the embodiment descriptor fields the model
                                    reads, by name, in order: any subset of
                                    :data:`compass_nav.contract.body.DESCRIPTOR_FIELDS` (the
                                    runtime builds that vector from the body by name).
    ``compass_nav.io``              JSON ``{inputs, outputs, state}``: tensor names, dtypes and
                                    per-row shapes (batch axis excluded), and the recurrent
                                    ``[input, output]`` pairs the runtime feeds back.
    ``compass_nav.preprocessing``   JSON description of what happens inside and outside the
                                    graph (see :data:`PREPROCESSING`).
    ``compass_nav.training_config`` JSON: the resolved config of the run that trained it.
    ``compass_nav.command``         The exact command line that produced the file.
    ``compass_nav.git_commit``      Commit of the code that exported it (``+dirty`` if so).
    ``compass_nav.versions``        JSON: compass_nav, torch, onnx, onnxscript, opset, exporter.
    ``compass_nav.source``          JSON: checkpoint path, its sha256 and training step.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from compass_nav.contract.spec import InputSpec
from compass_nav.runtime.errors import MetadataError

__all__ = [
    "FORMAT_VERSION",
    "MODEL_KINDS",
    "PREFIX",
    "PREPROCESSING",
    "PROVENANCE_KEYS",
    "REQUIRED_KEYS",
    "ModelMetadata",
    "TensorSpec",
    "parse_metadata",
]

PREFIX = "compass_nav."
FORMAT_VERSION = 1
#: What an exported policy is: the IL world-model base, a residual RL specialist (base +
#: residual, one body) or the distilled generalist (conditioned on the descriptor).
MODEL_KINDS: tuple[str, ...] = ("il_base", "specialist", "generalist")
#: Keys a runtime needs to run the model.
REQUIRED_KEYS: tuple[str, ...] = (
    "format_version",
    "model_kind",
    "input_spec",
    "descriptor_fields",
    "io",
)
#: Keys that say where the model came from (the exporter always writes them; a shipped model
#: must have them; a runtime does not need them).
PROVENANCE_KEYS: tuple[str, ...] = (
    "preprocessing",
    "training_config",
    "command",
    "git_commit",
    "versions",
    "source",
)
_JSON_KEYS = (
    "input_spec",
    "descriptor_fields",
    "io",
    "preprocessing",
    "training_config",
    "versions",
    "source",
)
_DTYPES = ("uint8", "float32")

#: Where each processing step happens (recorded in every model so no consumer guesses).
PREPROCESSING: dict[str, str] = {
    "resize": "outside the graph: the runtime resizes camera images to input_spec's "
    "image_height x image_width with compass_nav.runtime.preprocess.resize_image "
    "(OpenCV INTER_AREA when shrinking, INTER_LINEAR when enlarging); every "
    "backend and the ROS node go through that one function",
    "rgb": "in the graph: uint8 (B,H,W,3) RGB -> float, /255 - 0.5, NCHW",
    "depth": "in the graph: float32 metres (B,H,W), clipped to [0, max_depth], / max_depth",
    "vectors": "in the graph: speed, route, goal scaled by the model config's constants",
    "action": "in the graph: tanh fractions of the body's limits -> SI (vx, vy, wz) via the "
    "embodiment descriptor (max_vx, min_vx, max_vy, max_wz), residual added "
    "(specialists), clipped to those limits",
    "state": "the runtime starts every episode with zeros for every state input and feeds "
    "each paired output back at the next step",
}


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One named graph input or output.

    Attributes:
        name: Graph name (``rgb``, ``h``, ``action``...).
        dtype: ``uint8`` or ``float32``.
        shape: Per-row shape; the graph's leading axis is the dynamic batch.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if not self.name:
            raise MetadataError("tensor spec: empty name")
        if self.dtype not in _DTYPES:
            raise MetadataError(
                f"tensor {self.name!r}: dtype={self.dtype!r} is not one of {', '.join(_DTYPES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """Typed view of an exported policy's metadata (see the module docstring for the keys).

    Attributes:
        kind: One of :data:`MODEL_KINDS`.
        spec: What the policy reads (image size, streams, route points, rate, descriptor).
        inputs: Graph inputs in order (observations first, then recurrent state).
        outputs: Graph outputs in order (``action`` first).
        state: ``(input, output)`` pairs of recurrent tensors fed back every step.
        extra: Provenance entries (``training_config``, ``command``...), parsed.
        format_version: Metadata format version.
    """

    kind: str
    spec: InputSpec
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    state: tuple[tuple[str, str], ...]
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", tuple((str(a), str(b)) for a, b in self.state))
        if self.kind not in MODEL_KINDS:
            raise MetadataError(
                f"model_kind={self.kind!r}: unknown; known kinds: {', '.join(MODEL_KINDS)}"
            )
        names_in = [t.name for t in self.inputs]
        names_out = [t.name for t in self.outputs]
        if "action" not in names_out:
            raise MetadataError(f"io: the outputs {names_out} have no 'action'")
        for a, b in self.state:
            if a not in names_in or b not in names_out:
                raise MetadataError(
                    f"io.state: pair ({a!r}, {b!r}) must name an input and an "
                    f"output (inputs {names_in}, outputs {names_out})"
                )
            if self.input(a).shape != self.output(b).shape:
                raise MetadataError(
                    f"io.state: {a!r} {self.input(a).shape} and {b!r} "
                    f"{self.output(b).shape} differ in shape"
                )

    # ------------------------------------------------------------------ queries
    def input(self, name: str) -> TensorSpec:
        """The input called ``name`` (KeyError if absent)."""
        for t in self.inputs:
            if t.name == name:
                return t
        raise KeyError(name)

    def output(self, name: str) -> TensorSpec:
        """The output called ``name`` (KeyError if absent)."""
        for t in self.outputs:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def state_inputs(self) -> tuple[str, ...]:
        """Names of the recurrent inputs (zeros at an episode start)."""
        return tuple(a for a, _ in self.state)

    @property
    def observation_inputs(self) -> tuple[TensorSpec, ...]:
        """Inputs that come from the observation dict (everything but the state)."""
        st = set(self.state_inputs)
        return tuple(t for t in self.inputs if t.name not in st)

    # ------------------------------------------------------------------ (de)serialisation
    def to_props(self) -> dict[str, str]:
        """The ``compass_nav.*`` string key/value pairs to store in the model file."""
        spec = dataclasses.asdict(self.spec)
        fields = list(spec.pop("descriptor_fields"))
        values: dict[str, Any] = {
            "format_version": str(self.format_version),
            "model_kind": self.kind,
            "input_spec": spec,
            "descriptor_fields": fields,
            "io": {
                "inputs": [t.to_dict() for t in self.inputs],
                "outputs": [t.to_dict() for t in self.outputs],
                "state": [list(p) for p in self.state],
            },
            **self.extra,
        }
        return {
            PREFIX + k: (json.dumps(v, sort_keys=False) if k in _JSON_KEYS else str(v))
            for k, v in values.items()
        }

    def missing_provenance(self) -> list[str]:
        """Provenance keys this metadata lacks (empty for a complete export)."""
        return [k for k in PROVENANCE_KEYS if k not in self.extra]


def parse_metadata(
    props: dict[str, str], source: str, expected_fields: tuple[str, ...] | None = None
) -> ModelMetadata:
    """Parse and check a model's ``compass_nav.*`` metadata.

    Args:
        props: All metadata key/value pairs of the file (other prefixes are ignored).
        source: The file, for error messages.
        expected_fields: Descriptor fields the caller can provide; defaults to this package's
            :data:`compass_nav.contract.body.DESCRIPTOR_FIELDS`.

    Returns:
        The parsed metadata.

    Raises:
        MetadataError: Missing keys, unknown format version, malformed JSON, unknown kind,
            inconsistent io, or a descriptor field that ``expected_fields`` lacks.
    """
    if expected_fields is None:
        from compass_nav.contract.body import DESCRIPTOR_FIELDS

        expected_fields = DESCRIPTOR_FIELDS
    ours = {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}
    missing = [k for k in REQUIRED_KEYS if k not in ours]
    if missing:
        hint = (
            " (it has no compass_nav metadata at all: was it exported with `compass-nav export`?)"
            if not ours
            else ""
        )
        raise MetadataError(
            f"{source}: metadata lacks {', '.join(PREFIX + k for k in missing)}{hint}"
        )
    try:
        version = int(ours["format_version"])
    except ValueError:
        raise MetadataError(
            f"{source}: {PREFIX}format_version={ours['format_version']!r} is not an integer"
        ) from None
    if version != FORMAT_VERSION:
        raise MetadataError(
            f"{source}: {PREFIX}format_version={version} is unknown; this "
            f"compass_nav reads version {FORMAT_VERSION} (re-export the model "
            "with this version of compass_nav)"
        )
    parsed: dict[str, Any] = {}
    for k, v in ours.items():
        if k in _JSON_KEYS:
            try:
                parsed[k] = json.loads(v)
            except json.JSONDecodeError as exc:
                raise MetadataError(f"{source}: {PREFIX}{k} is not valid JSON ({exc})") from None
        else:
            parsed[k] = v
    fields = tuple(parsed["descriptor_fields"])
    # Fields are matched by name: a runtime builds the descriptor the model declares from the
    # body (any subset of this package's fields, in any order), so a model exported with an
    # older, shorter schema keeps working; a field this package does not know is an error.
    unknown = [f for f in fields if f not in tuple(expected_fields)]
    dupes = sorted({f for f in fields if fields.count(f) > 1})
    if unknown or dupes or not fields:
        what = (
            f"unknown field(s) {', '.join(map(repr, unknown))}"
            if unknown
            else (f"repeated field(s) {', '.join(map(repr, dupes))}" if dupes else "no fields")
        )
        raise MetadataError(
            f"{source}: the model's embodiment descriptor asks for {what}; this "
            f"compass_nav's bodies provide: {', '.join(expected_fields)} (the model needs "
            "a newer compass_nav, or re-export it)"
        )
    try:
        spec = InputSpec(descriptor_fields=fields, **parsed["input_spec"])
        io = parsed["io"]
        inputs = tuple(TensorSpec(**t) for t in io["inputs"])
        outputs = tuple(TensorSpec(**t) for t in io["outputs"])
        state = tuple(tuple(p) for p in io["state"])
    except (TypeError, KeyError) as exc:
        raise MetadataError(
            f"{source}: malformed {PREFIX}input_spec or {PREFIX}io ({type(exc).__name__}: {exc})"
        ) from None
    extra = {k: v for k, v in parsed.items() if k not in REQUIRED_KEYS}
    try:
        return ModelMetadata(
            kind=parsed["model_kind"],
            spec=spec,
            inputs=inputs,
            outputs=outputs,
            state=state,
            extra=extra,
            format_version=version,
        )
    except MetadataError as exc:
        raise MetadataError(f"{source}: {exc}") from None


def _schema_difference(got: tuple[str, ...], want: tuple[str, ...]) -> str:
    """Short human description of how two descriptor schemas differ."""
    if len(got) != len(want):
        return f"{len(got)} fields vs {len(want)}: model {list(got)}, package {list(want)}"
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        if a != b:
            return f"field {i} is {a!r} in the model, {b!r} here"
    return "same"
