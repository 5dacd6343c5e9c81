"""Errors raised by the converters. All are `ValueError`s whose message says what was wrong and what to do."""

from __future__ import annotations

from ..output_folder import OutputFolderError


class ConversionError(ValueError):
    """A checkpoint could not be converted (bad input file, wrong weights, unusable output folder)."""


class UnsafePickleError(ConversionError):
    """A pickle references a global that a parameter checkpoint never needs; nothing from it was run."""


class MappingError(ConversionError):
    """Source arrays and model parameters do not match one to one (missing, unexpected or mis-shaped names)."""


OutputDirError = OutputFolderError
"""The output folder cannot be written (see `perceiver_hf.output_folder`); the converters' name for it."""
