"""The runtime's specific errors, all :class:`~compass_nav.utils.errors.ModelError` subclasses.

Every backend (:mod:`.onnx_runtime`, :mod:`.tensorrt_runtime`, :mod:`.torch_runtime`), the
shared input checks (:mod:`.preprocess`), the metadata parser (:mod:`.metadata`) and the
exporter (:mod:`compass_nav.export`) raise these, so a caller (the CLI, the ROS navigator, a
test) can tell a missing file from a bad camera image without parsing messages. Being
``ModelError`` s, the CLI prints them as one line, without a traceback.
"""

from __future__ import annotations

from compass_nav.utils.errors import ModelError

__all__ = [
    "BackendUnavailableError",
    "InputError",
    "InvalidObservationError",
    "MetadataError",
    "ModelFileError",
    "NonFiniteOutputError",
    "ProviderUnavailableError",
]


class ModelFileError(ModelError):
    """The model file is missing, unreadable, corrupt or not of the expected format."""


class MetadataError(ModelError):
    """The model's metadata is missing keys, has an unknown version, or disagrees with us.

    E.g. an embodiment descriptor schema other than this package's DESCRIPTOR_FIELDS.
    """


class InputError(ModelError, ValueError):
    """An observation has a missing entry, a wrong shape or dtype, or wrong image channels.

    The message names the input and gives the expected vs the actual shape and dtype.
    """


class InvalidObservationError(InputError):
    """An observation vector (speed, goal, route, embodiment) holds NaN or infinity.

    The message names the input and the rows. (Non-finite depth pixels are not an error:
    they are the sensor's "no return" and read as 0, see :mod:`.preprocess`.)
    """


class NonFiniteOutputError(ModelError):
    """The model produced a NaN or infinite action, path or recurrent state.

    The runtime keeps the state of its last good step; the caller should stop the robot.
    """


class ProviderUnavailableError(ModelError):
    """An onnxruntime execution provider was asked for that this installation lacks.

    The message lists the available ones.
    """


class BackendUnavailableError(ModelError):
    """A backend's software or hardware is missing (TensorRT not installed, no CUDA device).

    The message says exactly what is missing and how to get it.
    """
