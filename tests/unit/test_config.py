"""Settings: explicit arguments > environment > TOML file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadstar.config import default_catalogue, load_settings, mask_url, table_from_entry
from loadstar.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "loadstar.toml"
    path.write_text(text)
    return str(path)


def test_default_catalogue_is_the_terrific_totes_star_schema() -> None:
    tables = {t.name: t for t in default_catalogue()}
    assert list(tables) == [
        "dim_date",
        "dim_staff",
        "dim_location",
        "dim_currency",
        "dim_design",
        "dim_counterparty",
        "fact_sales_order",
    ]
    assert tables["dim_staff"].prefix == "dimension/staff"
    assert tables["dim_staff"].kind == "dimension"
    assert tables["fact_sales_order"].prefix == "fact/sales_order"
    assert tables["fact_sales_order"].version_key == (
        "sales_order_id",
        "last_updated_date",
        "last_updated_time",
    )
    assert tables["dim_counterparty"].rename == {
        "counterparty_legal_phone": "counterparty_legal_phone_number"
    }


def test_argument_beats_environment_beats_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[source]\nbucket = "from-file"\n')
    env = {"LOADSTAR_CONFIG": path, "LOADSTAR_BUCKET": "from-env"}
    assert load_settings(environ={"LOADSTAR_CONFIG": path}).bucket == "from-file"
    assert load_settings(environ=env).bucket == "from-env"
    assert load_settings(bucket="from-arg", environ=env).bucket == "from-arg"
    assert load_settings(environ={}).bucket is None


def test_database_settings_come_from_the_environment() -> None:
    settings = load_settings(
        environ={"LOADSTAR_DATABASE_URL": "postgresql://u:pw@h/db", "LOADSTAR_DB_SECRET": "s"}
    )
    assert settings.database_url == "postgresql://u:pw@h/db"
    assert settings.db_secret == "s"


def test_an_explicit_secret_beats_the_environments_url() -> None:
    env = {"LOADSTAR_DATABASE_URL": "postgresql://dev@localhost/dev"}
    chosen = load_settings(db_secret="prod/warehouse", environ=env)
    assert (chosen.database_url, chosen.db_secret) == (None, "prod/warehouse")
    # without one, the environment's URL still wins over a secret from the environment
    both = load_settings(environ={**env, "LOADSTAR_DB_SECRET": "prod/warehouse"})
    assert both.database_url == env["LOADSTAR_DATABASE_URL"]


def test_metrics_settings_come_from_the_environment_then_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[metrics]\nnamespace = "FromFile"\nservice = "file-svc"\n')
    from_file = load_settings(config_path=path, environ={})
    assert (from_file.metrics_namespace, from_file.service) == ("FromFile", "file-svc")
    env = {"LOADSTAR_METRICS_NAMESPACE": "FromEnv", "LOADSTAR_SERVICE": "env-svc"}
    from_env = load_settings(config_path=path, environ=env)
    assert (from_env.metrics_namespace, from_env.service) == ("FromEnv", "env-svc")
    default = load_settings(environ={})
    assert (default.metrics_namespace, default.service) == ("Loadstar", "loadstar")


def test_file_catalogue_replaces_the_default_and_derives_what_it_leaves_out(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        """
[warehouse]
schema = "project_team_2"

[tables.dim_counterparty]
prefix = "dim_counterparty/"
rename = { legal_phone = "counterparty_legal_phone_number" }

[tables.fact_sales_order]
prefix = "fact_sales_order/"

[tables.sales_targets]
kind = "fact"
version_key = []
""",
    )
    settings = load_settings(config_path=path, environ={})
    tables = {t.name: t for t in settings.tables}
    assert settings.schema == "project_team_2"
    assert list(tables) == ["dim_counterparty", "fact_sales_order", "sales_targets"]
    assert tables["dim_counterparty"].kind == "dimension"
    assert tables["dim_counterparty"].rename == {"legal_phone": "counterparty_legal_phone_number"}
    assert tables["fact_sales_order"].version_key[0] == "sales_order_id"
    assert tables["sales_targets"].prefix == "fact/sales_targets"
    assert tables["sales_targets"].version_key == ()


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[tables.things]\n", "needs kind"),
        ('[tables.dim_x]\nkind = "lookup"\n', "kind must be"),
        ('[tables.dim_x]\nprefixx = "a/"\n', "no setting 'prefixx' \\(did you mean 'prefix'\\?\\)"),
        ('[tables.dim_x]\nversion_key = ["a"]\n', "fact tables only"),
        ("[tables.dim_x]\nrename = { a = 1 }\n", "rename must map"),
        ('[tables.dim_a]\nprefix = "p"\n[tables.dim_b]\nprefix = "p"\n', "share a prefix"),
        ("[tablez]\n", "unknown section \\[tablez\\] \\(did you mean 'tables'\\?\\)"),
        ("not toml = = \n", "not valid TOML"),
    ],
)
def test_bad_catalogue_is_a_config_error(tmp_path: Path, text: str, complaint: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=complaint):
        load_settings(config_path=path, environ={})


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (
            '[warehouse]\nschemaa = "mart"\n',
            r"\[warehouse\] has no setting 'schemaa' \(did you mean 'schema'\?\)",
        ),
        (
            '[ledger]\nshema = "x"\n',
            r"\[ledger\] has no setting 'shema' \(did you mean 'schema'\?\)",
        ),
        ("[run]\ntime_reserve_second = 5\n", r"did you mean 'time_reserve_seconds'\?"),
        ('[source]\nbuckett = "b"\n', r"did you mean 'bucket'\?"),
        ('[metrics]\nnamespaces = "n"\n', r"did you mean 'namespace'\?"),
        ("[warehouse]\nlock_timeout = 3\n", r"did you mean 'lock_timeout_seconds'\?"),
        ('[warehouse]\nzzz = "x"\n', r"has no setting 'zzz'; it has connect_attempts"),
        (
            "[run]\ntime_reserve_seconds = true\n",
            r"time_reserve_seconds must be a number .* got True",
        ),
        ('[run]\ntime_reserve_seconds = "10"\n', r"time_reserve_seconds must be a number"),
        ("[run]\ntime_reserve_seconds = -1\n", r"at least 0, got -1"),
        ("[warehouse]\nconnect_attempts = 2.5\n", r"connect_attempts must be an integer"),
        (
            "[warehouse]\nconnect_attempts = 0\n",
            r"connect_attempts must be an integer of at least 1",
        ),
        ("[warehouse]\nlock_timeout_seconds = false\n", r"lock_timeout_seconds must be a number"),
        ("[warehouse]\nschema = 5\n", r"schema must be a non-empty string, got 5"),
        ('[warehouse]\nschema = ""\n', r"schema must be a non-empty string"),
        ("warehouse = 1\n", r"\[warehouse\] must be a table of settings"),
        ("[metric]\n", r"did you mean 'metrics'\?"),
    ],
)
def test_every_unknown_or_mistyped_setting_is_refused(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=complaint):
        load_settings(config_path=path, environ={})


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("LOADSTAR_CONNECT_ATTEMPTS", "many", "must be integer"),
        ("LOADSTAR_CONNECT_ATTEMPTS", "0", "must be at least 1"),
        ("LOADSTAR_LOCK_TIMEOUT_SECONDS", "-2", "must be at least 0"),
        ("LOADSTAR_TIME_RESERVE_SECONDS", "soon", "must be number"),
    ],
)
def test_a_mistyped_environment_variable_is_refused_by_name(
    variable: str, value: str, complaint: str
) -> None:
    with pytest.raises(ConfigError, match=f"{variable} {complaint}"):
        load_settings(environ={variable: value})


def test_numbers_come_from_the_environment_then_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[warehouse]\nconnect_attempts = 2\nlock_timeout_seconds = 1.5\n")
    settings = load_settings(config_path=path, environ={"LOADSTAR_CONNECT_ATTEMPTS": "7"})
    assert (settings.connect_attempts, settings.lock_timeout_seconds) == (7, 1.5)
    assert load_settings(environ={}).connect_attempts == 4


def test_missing_config_file_is_named() -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.toml"):
        load_settings(environ={"LOADSTAR_CONFIG": "/nowhere.toml"})


def test_missing_bucket_says_how_to_set_one() -> None:
    with pytest.raises(ConfigError, match="LOADSTAR_BUCKET"):
        load_settings(environ={}).require_bucket()


@pytest.mark.parametrize(
    "conninfo",
    [
        "postgresql://loader:s3cr3t-pw@db.example.com:5432/warehouse",
        "postgresql://loader@db/warehouse?password=s3cr3t-pw&sslmode=require",
        "host=db user=loader password=s3cr3t-pw dbname=warehouse",
        "host=db password='s3cr3t-pw' dbname=warehouse",
    ],
)
def test_passwords_are_masked(conninfo: str) -> None:
    masked = mask_url(conninfo)
    assert masked is not None
    assert "s3cr3t-pw" not in masked
    assert "***" in masked


def test_settings_repr_never_shows_the_password() -> None:
    settings = load_settings(environ={"LOADSTAR_DATABASE_URL": "postgresql://u:s3cr3t-pw@h/db"})
    assert "s3cr3t-pw" not in repr(settings)
    assert "s3cr3t-pw" not in str(settings)


# -- ignore, and every setting in the help ---------------------------------------------------


def test_ignore_names_file_columns_to_drop() -> None:
    spec = table_from_entry("dim_staff", {"ignore": ["_ingested_at", "debug"]})
    assert spec.ignore == frozenset({"_ingested_at", "debug"})
    assert table_from_entry("dim_staff", {}).ignore == frozenset()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"ignore": "debug"}, "[tables.fact_x] ignore must be a list of file column names"),
        ({"ignore": [1]}, "[tables.fact_x] ignore must be a list of file column names"),
        ({"ignore": [""]}, "[tables.fact_x] ignore must be a list of file column names"),
        (
            {"ignore": ["a"], "rename": {"a": "b"}},
            "[tables.fact_x] ignores 'a', which it also renames or keys on",
        ),
        (
            {"ignore": ["v"], "version_key": ["v"]},
            "[tables.fact_x] ignores 'v', which it also renames or keys on",
        ),
    ],
)
def test_an_ignore_that_cannot_mean_anything_is_refused(
    entry: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        table_from_entry("fact_x", entry)
    assert str(refused.value).startswith(message)


def test_the_help_names_every_variable_and_toml_key_loadstar_reads() -> None:
    import re

    from loadstar.config import SETTINGS_HELP
    from loadstar.config.settings import _SCHEMA

    root = Path(__file__).resolve().parents[2] / "src" / "loadstar"
    source = "\n".join(p.read_text() for p in root.rglob("*.py"))
    read = set(re.findall(r'"(LOADSTAR_[A-Z_]+)"', source))
    assert read == {s.env for s in SETTINGS_HELP if s.env}
    keys = {f"{section}.{key}" for section, fields in _SCHEMA.items() for key in fields}
    assert keys == {s.toml for s in SETTINGS_HELP if s.toml}
