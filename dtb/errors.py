"""Errors that the command line reports as one message (besides ``ValueError``/``OSError``)."""


class DtbError(RuntimeError):
    """A run that started well but could not finish; the message says where and why."""
