"""TODO"""

from loadstar.cli.commands import EXIT_CONFIG, EXIT_FAILED, EXIT_LOCKED, EXIT_OK, main

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_LOCKED", "EXIT_OK", "main"]
