"""The kit's own exceptions: one small tree, each carrying a message fit for a user."""

from __future__ import annotations


class KitError(Exception):
    """Base class of every error the kit raises on purpose (the CLI prints these without a traceback)."""


class LoadError(KitError):
    """A source could not be read: missing file, unreadable bytes, missing columns, no rows."""


class ValidationError(LoadError):
    """Rows of a source are invalid; ``problems`` lists every one (row, column, value, reason)."""

    def __init__(self, message: str, problems=None):
        super().__init__(message)
        self.problems = problems


class ParameterError(KitError):
    """An option or parameter has a wrong name, type or value."""


class ReportError(KitError):
    """A report could not be executed, checked or published."""


class ReportInputError(ReportError):
    """
    A report stopped on its data or parameters (exit status 2, as for a bad input file).

    Raised for a :class:`LoadError`, :class:`ValidationError` or :class:`ParameterError`
    in the notebook, recognised by the exception's name papermill reports.
    """


class OutputError(KitError):
    """
    An output cannot be written where it was asked.

    The path is not a regular file (a
    symlink, FIFO, device or folder), its name is too long, or the disk is full or the
    file-size limit reached (exit status 2; nothing is left half-written).
    """
