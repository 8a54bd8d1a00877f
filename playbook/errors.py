"""Exceptions of the playbook: every one carries a message a user can act on."""
from __future__ import annotations


class PlaybookError(Exception):
    """Base class: a problem the user can fix, explained in the message (no traceback needed)."""


class DataError(PlaybookError):
    """The data source cannot be used as it is; ``issues`` lists every blocking problem."""

    def __init__(self, message: str, issues: list | None = None):
        super().__init__(message)
        self.issues = list(issues or [])
