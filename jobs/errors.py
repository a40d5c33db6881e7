"""Errors a user can cause: reported as one clear message, never a stack trace."""


class BomflowError(Exception):
    """Bad path, bad config or bad data: the message says what to fix."""
