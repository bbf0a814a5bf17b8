"""Exception types the whole package raises for user-facing failures.

The CLI (``compass_nav.cli``) catches :class:`CompassNavError` and prints
``compass-nav: error: <message>`` with exit code 2 and no traceback, so any stage can report a
bad config, missing data or a broken model file by raising one of these with a message that
names the offending field, path or value. Programming errors should stay ordinary exceptions
so that they keep their traceback.
"""

from __future__ import annotations

__all__ = [
    "CompassNavError",
    "ConfigError",
    "DataError",
    "ModelError",
    "NonFiniteError",
    "OutputError",
]


class CompassNavError(Exception):
    """Base class for errors that are the user's to fix (input, config, files), not bugs."""


class ConfigError(CompassNavError, ValueError):
    """A configuration value is invalid, unknown or missing.

    Also a ``ValueError`` so that dataclass ``__post_init__`` validation reads naturally to
    callers that only expect the standard exception.
    """


class DataError(CompassNavError):
    """Data on disk (scenes, embodiments, datasets, recordings) is missing or malformed."""


class OutputError(CompassNavError):
    """An output location cannot be written: a file where a folder goes, read-only, full."""


class ModelError(CompassNavError):
    """A checkpoint or exported model is missing, incompatible or fails its contract."""


class NonFiniteError(CompassNavError):
    """Training produced a NaN or infinite loss or weight (learning rate too high, bad data).

    Raised before any checkpoint or model with the non-finite value is written; the message
    names the stage, the step and the loss term or parameter.
    """
