"""TODO"""

from loadstar.config.settings import *  # noqa: F403
