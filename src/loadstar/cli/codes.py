"""The ``loadstar`` command's exit codes."""

EXIT_OK = 0
EXIT_FAILED = 1
"""A file failed (or would, or has): the data needs a look."""
EXIT_CONFIG = 2
"""Bad usage, settings, access or an unreachable warehouse: the set-up needs a fix."""
EXIT_LOCKED = 3
"""Another load held a table's lock: that table waits for the next run (others loaded)."""
