"""Input checks and image resizing shared by every runtime backend (and so by the ROS node).

An exported graph has a fixed image size (its metadata's ``input_spec``) and a dynamic batch.
Cameras deliver other sizes; :func:`resize_image` is the one function that maps them to the
model's size (OpenCV: ``INTER_AREA`` when shrinking, which averages and so does not alias a
640x480 frame down to 64x64; ``INTER_LINEAR`` when enlarging). Everything else (uint8 ->
float, normalisation, layout, action scaling and clipping) is inside the graph.

:func:`prepare_inputs` turns an observation dict (the simulator's contract, batch B) into the
graph's observation inputs: it checks presence, shapes and dtypes (an :class:`InputError`
naming the input, expected vs got), resizes images and casts vectors to float32. The ONNX,
TensorRT and torch runtimes all call it, so they see byte-identical inputs.

Non-finite values: a depth pixel that is NaN (the "no return" of ``32FC1`` depth images) or
+-inf (out of range, REP 117) becomes 0, the value the simulator renders where no surface is
within range (:mod:`compass_nav.sim.render`) and so what the model was trained to read as
"nothing there"; this happens before resizing, so one such pixel cannot spread. A NaN or
infinity in any other input (speed, goal, route, embodiment) has no such meaning and is an
:class:`InvalidObservationError` naming the input and rows. An empty batch is an
:class:`InputError`.
"""

from __future__ import annotations

import numpy as np

from compass_nav.runtime.errors import InputError, InvalidObservationError
from compass_nav.runtime.metadata import ModelMetadata, TensorSpec

__all__ = ["IMAGE_INPUTS", "prepare_inputs", "resize_image"]

#: Graph inputs that are camera images (resized to the model's size).
IMAGE_INPUTS: tuple[str, ...] = ("rgb", "depth")


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize one image (H, W) or (H, W, C) to (height, width), keeping its dtype.

    Returns the input unchanged (no copy) when it already has the size.
    """
    if image.shape[:2] == (height, width):
        return image
    import cv2

    shrinking = image.shape[0] * image.shape[1] > height * width
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    out = cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=interp)
    return out.reshape((height, width) + image.shape[2:])


def _describe(x: np.ndarray) -> str:
    return f"{tuple(x.shape)} {x.dtype}"


def _expected(t: TensorSpec, image: bool) -> str:
    dims = ("H", "W") + tuple(str(s) for s in t.shape[2:]) if image else tuple(map(str, t.shape))
    return f"(B, {', '.join(dims)}) {t.dtype}" if dims else f"(B,) {t.dtype}"


def _image(name: str, x: np.ndarray, t: TensorSpec, batch: int) -> np.ndarray:
    h, w = t.shape[:2]
    if name == "rgb":
        if x.ndim == 4 and x.shape[-1] != 3:
            raise InputError(
                f"input 'rgb': expected {_expected(t, True)}, got {_describe(x)}: "
                f"an image with {x.shape[-1]} channels; the model reads 3-channel "
                "RGB (convert BGR/BGRA/mono to rgb8 first)"
            )
        if x.ndim != 4:
            raise InputError(f"input 'rgb': expected {_expected(t, True)}, got {_describe(x)}")
        if x.dtype != np.uint8:
            raise InputError(
                f"input 'rgb': expected {_expected(t, True)}, got {_describe(x)}: "
                "pass the camera's uint8 pixels (normalisation is in the model)"
            )
    else:
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim != 3:
            raise InputError(
                f"input 'depth': expected {_expected(t, True)} metres, got {_describe(x)}"
            )
        if not np.issubdtype(x.dtype, np.floating):
            raise InputError(
                f"input 'depth': expected {_expected(t, True)} metres, got "
                f"{_describe(x)}: convert integer depth (e.g. uint16 mm) to "
                "float32 metres"
            )
        x = x.astype(np.float32, copy=False)
        bad = ~np.isfinite(x)
        if bad.any():  # the sensor's "no return": the simulator's 0 (module docstring)
            x = np.where(bad, np.float32(0.0), x)
    if x.shape[0] != batch:
        raise InputError(
            f"input {name!r}: batch {x.shape[0]} differs from the batch {batch} of 'goal'"
        )
    if x.shape[1:3] != (h, w):
        x = np.stack([resize_image(img, h, w) for img in x])
    return np.ascontiguousarray(x)


def prepare_inputs(
    obs: dict[str, np.ndarray], meta: ModelMetadata, defaults: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Observation dict -> the graph's observation inputs, checked, resized, contiguous.

    Args:
        obs: Batched observation (``rgb`` uint8 (B,H,W,3) of any H, W; ``depth`` float
            metres (B,H,W); ``speed`` (B,3); ``route`` (B,K,2); ``goal`` (B,3);
            ``embodiment`` (B,D)). Entries the model does not read are ignored.
        meta: The model's metadata (input names, dtypes, per-row shapes).
        defaults: Per-row values (shape = the input's row shape) used for inputs ``obs``
            lacks, e.g. the runtime's embodiment descriptor.

    Returns:
        ``{name: array}`` for every observation input of the graph, batch B.

    Raises:
        InputError: A missing input, a wrong shape, dtype or channel count (named, expected
            vs got), inconsistent batch sizes, or batch size 0.
        InvalidObservationError: NaN or infinity in a non-image input (named, with rows).
    """
    if "goal" not in obs:
        raise InputError("observation has no 'goal' (B, 3): it fixes the batch size")
    if np.ndim(obs["goal"]) == 0:
        raise InputError("input 'goal': expected (B, 3), got a scalar")
    batch = int(np.shape(obs["goal"])[0])
    if batch == 0:
        raise InputError("observation has batch size 0 ('goal' has no rows): nothing to run")
    defaults = defaults or {}
    feed: dict[str, np.ndarray] = {}
    for t in meta.observation_inputs:
        x = obs.get(t.name)
        if x is None:
            if t.name in defaults:
                row = np.asarray(defaults[t.name], t.dtype)
                feed[t.name] = np.ascontiguousarray(np.broadcast_to(row, (batch,) + t.shape))
                continue
            raise InputError(
                f"observation has no {t.name!r}: the model reads it as "
                f"{_expected(t, t.name in IMAGE_INPUTS)}"
            )
        x = np.asarray(x)
        if t.name in IMAGE_INPUTS:
            feed[t.name] = _image(t.name, x, t, batch)
            continue
        if x.shape != (batch,) + t.shape:
            raise InputError(
                f"input {t.name!r}: expected {_expected(t, False)} with B={batch}, "
                f"got {_describe(x)}"
            )
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise InputError(
                f"input {t.name!r}: expected {_expected(t, False)}, got {_describe(x)}"
            )
        value = np.ascontiguousarray(x, dtype=t.dtype)
        if np.issubdtype(value.dtype, np.floating):
            _require_finite(t.name, value)
        feed[t.name] = value
    return feed


def _require_finite(name: str, x: np.ndarray) -> None:
    bad = ~np.isfinite(x).reshape(x.shape[0], -1).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad).tolist()
        raise InvalidObservationError(
            f"input {name!r}: NaN or infinite value in row{'s' if len(rows) > 1 else ''} "
            f"{', '.join(map(str, rows[:8]))}{' ...' if len(rows) > 8 else ''}; "
            "the step was not run and the recurrent state is unchanged"
        )
