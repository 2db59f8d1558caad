"""Settings and the table catalogue: one frozen, typed object per run.

Precedence, field by field: explicit argument, then environment variable,
then the TOML file named by ``LOADSTAR_CONFIG``, then the built-in default.
``settings`` reads them; ``catalogue`` says which tables load from which
keys. Imports only ``errors``: every other package may import this one.
"""

from loadstar.config.catalogue import (
    TableKind,
    TableSpec,
    default_catalogue,
    load_order,
    table_from_entry,
)
from loadstar.config.settings import (
    DEFAULT_FULL_LISTING_INTERVAL_SECONDS,
    DEFAULT_LEDGER_SCHEMA,
    DEFAULT_METRICS_NAMESPACE,
    DEFAULT_SERVICE,
    DEFAULT_TIME_RESERVE_SECONDS,
    SETTINGS_HELP,
    SettingHelp,
    Settings,
    load_settings,
    mask_url,
    passwords_in,
)

__all__ = [
    "DEFAULT_FULL_LISTING_INTERVAL_SECONDS",
    "DEFAULT_LEDGER_SCHEMA",
    "DEFAULT_METRICS_NAMESPACE",
    "DEFAULT_SERVICE",
    "DEFAULT_TIME_RESERVE_SECONDS",
    "SETTINGS_HELP",
    "SettingHelp",
    "Settings",
    "TableKind",
    "TableSpec",
    "default_catalogue",
    "load_order",
    "load_settings",
    "mask_url",
    "passwords_in",
    "table_from_entry",
]
