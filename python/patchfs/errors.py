"""errors.py - the package's exceptions.

Error carries patchfs's own message (the daemon's refusal, a missing binary, a stale or busy
mountpoint) so that a user sees what `patchfs` on the command line would have said.
Positions out of range are IndexError and unknown splits ValueError, as Python users expect.
"""


class Error(Exception):
    """patchfs failed: the message is patchfs's own, or says what to do."""


class FingerprintMismatch(Error, ValueError):
    """A saved position belongs to other content: other content options, another dataset,
    plan or split. The message names every difference."""
