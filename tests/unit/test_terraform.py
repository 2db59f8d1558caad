"""deploy/terraform read as data: least privilege, fixed settings, alarms on real metrics.

Nothing is deployed or planned. python-hcl2 parses the module and the example,
and these tests assert on what they say; `deploy/check-terraform` runs
terraform fmt, validate and checkov over the same files.

Two kinds of policy are written here. The function's role (the documents
attached by aws_iam_role_policy) must name single actions on named resources,
with "*" as a resource only for ec2:Describe*, which takes nothing narrower.
The KMS key's policy can only ever say "*", which in a key policy means the
key itself.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hcl2
import pytest

from loadstar.config import default_catalogue
from loadstar.run import report
from loadstar.run.summary import RunSummary, TableSummary
from loadstar.telemetry.metrics import SERVICE_DIMENSION, TABLE_DIMENSION, UNITS

TERRAFORM = Path(__file__).resolve().parents[2] / "deploy" / "terraform"
MODULE = TERRAFORM / "modules" / "loadstar"
EXAMPLE = TERRAFORM / "examples" / "basic"

EMITTED_METRICS = frozenset(UNITS)
"""Every metric loadstar emits, in namespace LOADSTAR_METRICS_NAMESPACE with dimension Service."""

# Every action the function's role may take. A new permission fails this list
# until someone adds it here on purpose.
ROLE_ACTIONS = frozenset(
    {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
    }
)
DESCRIBE_ACTIONS = frozenset({"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"})
CONSUME_ACTIONS = frozenset(
    {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
)
"""What Lambda's poller does with the function's role on the event queue, and only there."""

Config = dict[str, list[dict[str, Any]]]


# --- Reading the HCL --------------------------------------------------------------


def plain(value: Any) -> Any:
    """python-hcl2's output without its markers: no ``__x__`` keys, no quotes around strings.

    python-hcl2 8 keeps a string literal's quotes (``'"Allow"'``) and marks
    blocks; 7 does neither. Expressions are ``"${...}"`` in both.
    """
    if isinstance(value, dict):
        return {
            plain(key): plain(item)
            for key, item in value.items()
            if not (isinstance(key, str) and key.startswith("__"))
        }
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse(text: str) -> Config:
    parsed: Config = plain(hcl2.loads(text))
    return parsed


def load_dir(directory: Path) -> Config:
    """Every .tf file of a directory, merged as Terraform merges them."""
    merged: Config = {}
    for path in sorted(directory.glob("*.tf")):
        for key, entries in parse(path.read_text()).items():
            merged.setdefault(key, []).extend(entries)
    return merged


@functools.cache
def module() -> Config:
    return load_dir(MODULE)


@functools.cache
def example() -> Config:
    return load_dir(EXAMPLE)


def blocks(config: Config, kind: str, type_: str) -> dict[str, dict[str, Any]]:
    """Name to body of every ``kind "type_" "name"`` block (resources, data sources)."""
    found: dict[str, dict[str, Any]] = {}
    for entry in config.get(kind, []):
        found.update(entry.get(type_, {}))
    return found


def merged(config: Config, kind: str) -> dict[str, Any]:
    """The ``variable``, ``locals`` or ``output`` blocks of all files, by name."""
    found: dict[str, Any] = {}
    for entry in config.get(kind, []):
        found.update(entry)
    return found


def resource(type_: str, name: str) -> dict[str, Any]:
    return blocks(module(), "resource", type_)[name]


def data(type_: str, name: str) -> dict[str, Any]:
    return blocks(module(), "data", type_)[name]


def default(name: str) -> Any:
    return merged(module(), "variable")[name].get("default")


def local(name: str) -> Any:
    return merged(module(), "locals")[name]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- Policy statements and the checks on them ------------------------------------------


@dataclass(frozen=True)
class Statement:
    document: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    principals: tuple[tuple[str, tuple[str, ...]], ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]
    only_if: str | None
    """The for_each of a dynamic statement; None for a statement always present."""


def _strings(value: Any) -> tuple[str, ...]:
    """A list as written, or an expression (a for expression, say) as its one item."""
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return (str(value),)


def _statement(document: str, body: dict[str, Any], only_if: str | None) -> Statement:
    return Statement(
        document=document,
        sid=str(body.get("sid", "")),
        actions=_strings(body.get("actions", [])),
        resources=_strings(body.get("resources", [])),
        principals=tuple(
            (str(p["type"]), _strings(p["identifiers"])) for p in body.get("principals", [])
        ),
        conditions=tuple(
            (str(c["test"]), str(c["variable"]), _strings(c["values"]))
            for c in body.get("condition", [])
        ),
        only_if=only_if,
    )


def statements(config: Config) -> list[Statement]:
    """Every statement of every aws_iam_policy_document, dynamic ones included."""
    found: list[Statement] = []
    for document, body in blocks(config, "data", "aws_iam_policy_document").items():
        found.extend(_statement(document, s, None) for s in body.get("statement", []))
        for dynamic in body.get("dynamic", []):
            for label, block in dynamic.items():
                if label == "statement":
                    found.extend(
                        _statement(document, content, str(block["for_each"]))
                        for content in block["content"]
                    )
    return found


def all_actions_grants(found: list[Statement]) -> list[str]:
    """Actions that allow everything, of every service ("*") or of one ("s3:*")."""
    return [
        f"{s.document}/{s.sid}: {action}"
        for s in found
        for action in s.actions
        if action == "*" or action.endswith(":*")
    ]


def star_resources(found: list[Statement]) -> list[Statement]:
    return [s for s in found if "*" in s.resources]


STAR_RESOURCE_LINE = re.compile(r'^\s*resources\s*=\s*\[\s*"\*"\s*\]')


def uncommented_star_resources(text: str) -> list[int]:
    """Lines of ``resources = ["*"]`` whose comment does not say AWS takes nothing narrower."""
    lines = text.splitlines()
    bad = []
    for number, line in enumerate(lines):
        if not STAR_RESOURCE_LINE.match(line):
            continue
        comment = [line.partition("#")[2]]
        above = number - 1
        while above >= 0 and lines[above].strip().startswith("#"):
            comment.insert(0, lines[above].strip().lstrip("#"))
            above -= 1
        if "nothing narrower" not in " ".join(" ".join(comment).split()):
            bad.append(number + 1)
    return bad


def documents_used_by(type_: str, attribute: str) -> set[str]:
    """Names of the policy documents that resources of ``type_`` use as ``attribute``."""
    used = set()
    for body in blocks(module(), "resource", type_).values():
        used.update(re.findall(r"data\.aws_iam_policy_document\.(\w+)", str(body[attribute])))
    return used


def role_statements() -> list[Statement]:
    attached = documents_used_by("aws_iam_role_policy", "policy")
    return [s for s in statements(module()) if s.document in attached]


def key_statements() -> list[Statement]:
    keys = documents_used_by("aws_kms_key", "policy")
    return [s for s in statements(module()) if s.document in keys]


def queue_policy_statements() -> list[Statement]:
    queues = documents_used_by("aws_sqs_queue_policy", "policy")
    return [s for s in statements(module()) if s.document in queues]


def iam_like(pattern: str, value: str) -> bool:
    """IAM's wildcard matching (StringLike, ArnLike, resources): ``*`` any run, ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


# --- The checks catch what they are for ---------------------------------------------

SYNTHETIC_POLICY = """
data "aws_iam_policy_document" "too_broad" {
  statement {
    sid       = "Everything"
    actions   = ["*"]
    resources = ["*"]
  }
  statement {
    sid       = "AllOfS3"
    actions   = ["s3:*"]
    resources = ["arn:aws:s3:::processed/*"]
  }
  statement {
    sid       = "OneAction"
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::processed/dimension/*"]
  }
}
"""


def test_the_checks_catch_wildcard_actions_and_resources() -> None:
    found = statements(parse(SYNTHETIC_POLICY))
    assert [s.sid for s in found] == ["Everything", "AllOfS3", "OneAction"]
    assert all_actions_grants(found) == ["too_broad/Everything: *", "too_broad/AllOfS3: s3:*"]
    assert [s.sid for s in star_resources(found)] == ["Everything"]
    assert uncommented_star_resources(SYNTHETIC_POLICY) == [6]
    commented = SYNTHETIC_POLICY.replace(
        '    resources = ["*"]', '    # AWS offers nothing narrower.\n    resources = ["*"]'
    )
    assert uncommented_star_resources(commented) == []


def test_python_hcl2_renders_expressions_as_written() -> None:
    # python-hcl2 7 renders expressions lossily (quotes dropped inside lists,
    # true as True), which the checks on expressions below cannot work with.
    version = importlib.metadata.version("python-hcl2")
    assert int(version.split(".")[0]) >= 8, version
    [variable] = parse('variable "x" {\n  default = [for p in ["a"] : "${p}*"]\n}\n')["variable"]
    assert squash(variable["x"]["default"]) == squash('${[for p in ["a"] : "${p}*"]}')


def test_iam_like_matches_as_iam_does() -> None:
    assert iam_like("dimension/*", "dimension/staff")
    assert iam_like("dimension/*", "dimension/")
    assert not iam_like("dimension/*", "dimensions/staff")
    assert not iam_like("dimension/*", "")
    assert iam_like("a?c", "abc")
    assert not iam_like("a.c", "abc")


# --- The function's role -------------------------------------------------------------


def test_the_role_is_built_from_policy_documents() -> None:
    assert documents_used_by("aws_iam_role_policy", "policy") == {"function", "vpc"}
    assert len(role_statements()) >= 8


def test_no_statement_anywhere_allows_all_actions() -> None:
    assert all_actions_grants(statements(module())) == []
    assert all_actions_grants(statements(example())) == []


def test_the_role_names_single_actions_and_only_those_it_needs() -> None:
    actions = [a for s in role_statements() for a in s.actions]
    assert [a for a in actions if "*" in a] == []
    assert set(actions) == ROLE_ACTIONS
    assert "logs:CreateLogGroup" not in actions
    assert {s.sid for s in role_statements() if s.sid} == {s.sid for s in role_statements()}


def test_star_resources_are_only_where_aws_offers_nothing_narrower() -> None:
    keys = {s.document for s in key_statements()}
    for statement in star_resources(statements(module())):
        if statement.document in keys:
            assert statement.resources == ("*",), statement  # a key policy: this key
        else:
            assert statement.document == "vpc", statement
            assert statement.resources == ("*",), statement
            assert set(statement.actions) <= DESCRIBE_ACTIONS, statement
    role_stars = star_resources(role_statements())
    assert [set(s.actions) for s in role_stars] == [DESCRIBE_ACTIONS]


def test_every_star_resource_is_commented() -> None:
    star_lines = 0
    for path in sorted(MODULE.glob("*.tf")):
        text = path.read_text()
        assert uncommented_star_resources(text) == [], path.name
        star_lines += sum(bool(STAR_RESOURCE_LINE.match(line)) for line in text.splitlines())
    # Every "*" resource is written on a line of its own, so none escaped the look.
    assert star_lines == len(star_resources(statements(module())))


def test_listing_is_limited_to_the_table_prefixes() -> None:
    [listing] = [s for s in role_statements() if "s3:ListBucket" in s.actions]
    assert listing.actions == ("s3:ListBucket",)
    assert listing.resources == ("${local.bucket_arn}",)
    assert local("bucket_arn") == "arn:${local.partition}:s3:::${var.bucket_name}"
    [(test, variable, values)] = listing.conditions
    assert (test, variable) == ("StringLike", "s3:prefix")
    assert [squash(v) for v in values] == [squash('${[for prefix in var.prefixes : "${prefix}*"]}')]

    # What that condition allows, with the default prefixes.
    assert default("prefixes") == ["dimension/", "fact/"]
    patterns = [f"{prefix}*" for prefix in default("prefixes")]

    def allowed(prefix: str) -> bool:
        return any(iam_like(pattern, prefix) for pattern in patterns)

    # loadstar lists each table with Prefix set to the table's prefix.
    for table in default_catalogue():
        assert table.prefix is not None
        assert allowed(table.prefix), table
    assert allowed("dimension/dim_staff")
    assert allowed("fact/fact_sales_order/")
    assert not allowed("")
    assert not allowed("secrets/")
    assert not allowed("dimensions/staff")


def test_objects_are_read_and_tagged_under_the_table_prefixes_only() -> None:
    s3 = [s for s in role_statements() if any(a.startswith("s3:") for a in s.actions)]
    [objects] = [s for s in s3 if "s3:ListBucket" not in s.actions]
    assert len(s3) == 2
    assert sorted(objects.actions) == ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"]
    assert objects.only_if is None
    assert [squash(r) for r in objects.resources] == [
        squash('${[for prefix in var.prefixes : "${local.bucket_arn}/${prefix}*"]}')
    ]

    arns = [f"arn:aws:s3:::processed/{prefix}*" for prefix in default("prefixes")]

    def allowed(key: str) -> bool:
        return any(iam_like(arn, f"arn:aws:s3:::processed/{key}") for arn in arns)

    for table in default_catalogue():
        assert allowed(f"{table.prefix}-2024-01-01T00:00:00.parquet"), table
    assert allowed("dimension/dim_staff-2024-01-01T00:00:00.parquet")
    assert allowed("fact/fact_sales_order/2024-01-01T00:00:00.parquet")
    assert not allowed("README.txt")
    assert not allowed("raw/dimension/staff-2024-01-01T00:00:00.parquet")


def test_the_prefixes_cannot_carry_wildcards() -> None:
    [validation] = merged(module(), "variable")["prefixes"]["validation"]
    assert 'strcontains(p, "*")' in validation["condition"]
    assert 'strcontains(p, "?")' in validation["condition"]


def test_the_warehouse_secret_is_the_one_secret_read() -> None:
    found = [s for s in role_statements() if any("secretsmanager" in a for a in s.actions)]
    assert [(s.actions, s.resources, s.only_if) for s in found] == [
        (("secretsmanager:GetSecretValue",), ("${var.db_secret_arn}",), None)
    ]


def test_kms_decrypt_only_for_a_key_given_and_only_through_its_service() -> None:
    [decrypt] = [s for s in role_statements() if any(a.startswith("kms:") for a in s.actions)]
    assert decrypt.actions == ("kms:Decrypt",)
    assert decrypt.sid == "${statement.key}"
    assert decrypt.resources == ("${statement.value.arn}",)
    # One statement per key that is given: a null key grants nothing.
    assert decrypt.only_if is not None
    assert squash(decrypt.only_if) == squash(
        "${{for sid, key in local.decrypt_keys : sid => key if key.arn != null}}"
    )
    assert decrypt.conditions == (
        (
            "StringEquals",
            "kms:ViaService",
            ("${statement.value.service}.${local.region}.amazonaws.com",),
        ),
    )
    # Each key through the service that holds what it encrypts, and no other.
    assert local("decrypt_keys") == {
        "DecryptWarehouseSecret": {"arn": "${var.secret_kms_key_arn}", "service": "secretsmanager"},
        "DecryptTableFiles": {"arn": "${var.bucket_kms_key_arn}", "service": "s3"},
    }
    assert default("secret_kms_key_arn") is None
    assert default("bucket_kms_key_arn") is None


def test_logs_go_only_to_the_functions_own_log_group() -> None:
    [logs] = [s for s in role_statements() if any(a.startswith("logs:") for a in s.actions)]
    assert logs.actions == ("logs:CreateLogStream", "logs:PutLogEvents")
    assert logs.resources == ("${local.log_group_arn}:*",)
    assert local("log_group_name") == "/aws/lambda/${var.name}"
    assert local("log_group_arn").endswith(":log-group:${local.log_group_name}")
    group = resource("aws_cloudwatch_log_group", "function")
    assert group["name"] == "${local.log_group_name}"
    assert group["retention_in_days"] == "${var.log_retention_days}"
    assert default("log_retention_days") == 365


def test_network_interface_permissions_only_in_a_vpc() -> None:
    ec2 = [s for s in statements(module()) if any(a.startswith("ec2:") for a in s.actions)]
    assert {s.document for s in ec2} == {"vpc"}
    only_in_vpc = "${local.in_vpc ? 1 : 0}"
    assert blocks(module(), "data", "aws_iam_policy_document")["vpc"]["count"] == only_in_vpc
    assert resource("aws_iam_role_policy", "vpc")["count"] == only_in_vpc
    assert local("in_vpc") == "${length(var.subnet_ids) > 0}"
    assert default("subnet_ids") == []
    [vpc_config] = [d["vpc_config"] for d in resource("aws_lambda_function", "loadstar")["dynamic"]]
    assert vpc_config["for_each"] == "${local.in_vpc ? [true] : []}"

    [create] = [s for s in ec2 if "ec2:CreateNetworkInterface" in s.actions]
    assert create.actions == ("ec2:CreateNetworkInterface",)
    # Authorised on the interface, the subnet and the security groups: each is named.
    ec2_arn = "arn:${local.partition}:ec2:${local.region}:${local.account_id}"
    assert [squash(r) for r in create.resources] == [
        squash(
            f'${{concat(["{ec2_arn}:network-interface/*"],'
            f' [for id in var.subnet_ids : "{ec2_arn}:subnet/${{id}}"],'
            f' [for id in var.security_group_ids : "{ec2_arn}:security-group/${{id}}"])}}'
        )
    ]


def test_only_lambda_assumes_the_role() -> None:
    assume = [s for s in statements(module()) if "sts:AssumeRole" in s.actions]
    assert [(s.document, s.principals) for s in assume] == [
        ("assume_role", (("Service", ("lambda.amazonaws.com",)),))
    ]
    role = resource("aws_iam_role", "function")
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.assume_role.json}"


# --- The function --------------------------------------------------------------------


def test_no_executions_are_reserved_unless_asked_for() -> None:
    # Per-table advisory locks make overlapping runs safe, so the function no
    # longer holds one reserved execution; a reservation is a variable.
    function = resource("aws_lambda_function", "loadstar")
    assert function["reserved_concurrent_executions"] == "${var.reserved_concurrent_executions}"
    assert default("reserved_concurrent_executions") is None
    [validation] = merged(module(), "variable")["reserved_concurrent_executions"]["validation"]
    # 0 would stop the function altogether.
    assert "var.reserved_concurrent_executions >= 1" in validation["condition"]
    # A reservation must leave the queue its concurrency, and the sweep one more.
    [precondition] = [
        p
        for block in function["lifecycle"]
        for p in block["precondition"]
        if "reserved_concurrent_executions" in p["condition"]
    ]
    assert squash(precondition["condition"]) == squash(
        "${!local.sqs_events || var.reserved_concurrent_executions == null"
        " || try(var.reserved_concurrent_executions > var.event_maximum_concurrency, false)}"
    )


def test_function_settings() -> None:
    function = resource("aws_lambda_function", "loadstar")
    assert function["handler"] == "loadstar.handler.lambda_handler"
    assert function["function_name"] == "${var.name}"
    assert function["timeout"] == "${var.timeout}"
    assert function["memory_size"] == "${var.memory_size}"
    assert function["runtime"] == "${var.runtime}"
    assert function["architectures"] == ["${var.architecture}"]
    assert function["filename"] == "${local.package_path}"
    assert function["source_code_hash"] == "${filebase64sha256(local.package_path)}"
    assert "dist/loadstar-lambda.zip" in local("package_path")
    assert default("timeout") == 900
    assert default("memory_size") == 1024
    assert default("runtime") == "python3.11"
    assert default("architecture") == "x86_64"
    variables = merged(module(), "variable")
    for name, allowed in [
        ("runtime", ["python3.11", "python3.12", "python3.13"]),
        ("architecture", ["x86_64", "arm64"]),
    ]:
        [validation] = variables[name]["validation"]
        assert all(f'"{value}"' in validation["condition"] for value in allowed)


def test_the_environment_names_bucket_secret_service_and_namespace() -> None:
    environment = " ".join(local("environment").split())

    def sets(name: str, value: str) -> bool:
        pattern = rf"""["']?{name}["']?\s*[=:]\s*["']?(\$\{{)?{re.escape(value)}\b"""
        return re.search(pattern, environment) is not None

    assert sets("LOADSTAR_BUCKET", "var.bucket_name")
    assert sets("LOADSTAR_DB_SECRET", "var.db_secret_arn")
    assert sets("LOADSTAR_SERVICE", "var.name")
    assert sets("LOADSTAR_METRICS_NAMESPACE", "var.metrics_namespace")
    assert sets("LOADSTAR_CONFIG", "var.config_path")
    # The catalogue only when one is given.
    assert re.search(r"var\.config_path == null \? \{\} : \{\s*['\"]?LOADSTAR_CONFIG", environment)
    assert default("config_path") is None
    assert default("metrics_namespace") == "Loadstar"
    function = resource("aws_lambda_function", "loadstar")
    assert function["environment"] == [{"variables": "${local.environment}"}]


# --- Schedule and failed invocations -------------------------------------------------------


def test_the_schedule_invokes_the_function_and_only_it_may() -> None:
    rule = resource("aws_cloudwatch_event_rule", "schedule")
    assert rule["schedule_expression"] == "${local.schedule_expression}"
    target = resource("aws_cloudwatch_event_target", "schedule")
    assert target["arn"] == "${aws_lambda_function.loadstar.arn}"
    permission = resource("aws_lambda_permission", "schedule")
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["source_arn"] == "${aws_cloudwatch_event_rule.schedule.arn}"


def test_the_schedule_defaults_by_mode_and_a_given_one_is_kept() -> None:
    # Unset: every 15 minutes in schedule mode, an hourly sweep in events mode.
    assert default("schedule_expression") is None
    assert squash(local("schedule_expression")) == squash(
        "${coalesce(var.schedule_expression,"
        ' local.events_mode ? "rate(1 hour)" : "rate(15 minutes)")}'
    )
    assert default("mode") == "schedule"
    assert local("events_mode") == '${var.mode == "events"}'
    # The staleness alarms' period must outlast the interval: two hourly sweeps.
    assert default("alarm_period_seconds") is None
    assert local("alarm_period_seconds") == (
        "${coalesce(var.alarm_period_seconds, local.events_mode ? 7200 : 3600)}"
    )
    for name, alarm in alarms().items():
        if alarm["namespace"] == "${var.metrics_namespace}":
            assert alarm["period"] == "${local.alarm_period_seconds}", name


def test_failed_invocations_land_in_an_encrypted_queue() -> None:
    invoke = resource("aws_lambda_function_event_invoke_config", "loadstar")
    [destination] = invoke["destination_config"]
    [on_failure] = destination["on_failure"]
    assert on_failure["destination"] == "${aws_sqs_queue.failed_invocations.arn}"
    assert invoke["maximum_retry_attempts"] == "${var.maximum_retry_attempts}"
    assert default("maximum_retry_attempts") == 0
    queue = resource("aws_sqs_queue", "failed_invocations")
    assert queue["sqs_managed_sse_enabled"] is True


# --- Events mode ------------------------------------------------------------------------

EVENT_RESOURCES = {
    # Both event sources.
    ("resource", "aws_sqs_queue", "event_dead_letters"): "${local.events_mode ? 1 : 0}",
    ("resource", "aws_sqs_queue_redrive_allow_policy", "event_dead_letters"): (
        "${local.events_mode ? 1 : 0}"
    ),
    ("resource", "aws_s3_bucket_notification", "events"): (
        "${local.events_mode && var.manage_bucket_notification ? 1 : 0}"
    ),
    ("resource", "aws_cloudwatch_metric_alarm", "event_dead_letters"): (
        "${local.events_mode ? 1 : 0}"
    ),
    # SQS.
    ("resource", "aws_sqs_queue", "events"): "${local.sqs_events ? 1 : 0}",
    ("data", "aws_iam_policy_document", "event_queue"): "${local.sqs_events ? 1 : 0}",
    ("resource", "aws_sqs_queue_policy", "events"): "${local.sqs_events ? 1 : 0}",
    ("resource", "aws_lambda_event_source_mapping", "events"): "${local.sqs_events ? 1 : 0}",
    ("resource", "aws_cloudwatch_metric_alarm", "event_age"): "${local.sqs_events ? 1 : 0}",
    # EventBridge.
    ("data", "aws_iam_policy_document", "event_dead_letters"): (
        "${local.eventbridge_events ? 1 : 0}"
    ),
    ("resource", "aws_sqs_queue_policy", "event_dead_letters"): (
        "${local.eventbridge_events ? 1 : 0}"
    ),
    ("resource", "aws_cloudwatch_event_rule", "object_created"): (
        "${local.eventbridge_events ? 1 : 0}"
    ),
    ("resource", "aws_cloudwatch_event_target", "object_created"): (
        "${local.eventbridge_events ? 1 : 0}"
    ),
    ("resource", "aws_lambda_permission", "object_created"): "${local.eventbridge_events ? 1 : 0}",
}


def test_event_resources_exist_only_in_their_mode() -> None:
    assert local("events_mode") == '${var.mode == "events"}'
    assert local("sqs_events") == '${local.events_mode && var.event_source == "sqs"}'
    assert local("eventbridge_events") == (
        '${local.events_mode && var.event_source == "eventbridge"}'
    )
    assert (default("mode"), default("event_source")) == ("schedule", "sqs")
    for (kind, type_, name), count in EVENT_RESOURCES.items():
        assert blocks(module(), kind, type_)[name].get("count") == count, (type_, name)
    # Everything else is there in every mode: the schedule keeps running as a sweep.
    counted = {
        (kind, type_, name)
        for kind in ("resource", "data")
        for entry in module().get(kind, [])
        for type_, named in entry.items()
        for name, body in named.items()
        if "count" in body
    }
    assert counted - set(EVENT_RESOURCES) == {
        ("data", "aws_iam_policy_document", "vpc"),
        ("resource", "aws_iam_role_policy", "vpc"),
        ("resource", "aws_cloudwatch_dashboard", "loadstar"),  # unless dashboard_enabled is false
    }


def test_the_role_consumes_its_own_event_queue_and_no_other() -> None:
    sqs = [s for s in role_statements() if any(a.startswith("sqs:") for a in s.actions)]
    [consume] = [s for s in sqs if set(s.actions) & CONSUME_ACTIONS]
    assert consume.sid == "ConsumeEventQueue"
    assert set(consume.actions) == CONSUME_ACTIONS
    # One statement per event queue: none unless events come through SQS.
    assert consume.only_if == "${aws_sqs_queue.events[*].arn}"
    assert consume.resources == ("${statement.value}",)
    assert consume.conditions == ()
    # SSE-SQS: no key to decrypt with.
    assert resource("aws_sqs_queue", "events")["sqs_managed_sse_enabled"] is True
    assert "kms_master_key_id" not in resource("aws_sqs_queue", "events")
    # And the one other SQS statement is the failed-invocations queue's.
    [(send, resources)] = [(s.actions, s.resources) for s in sqs if s is not consume]
    assert (send, resources) == (
        ("sqs:SendMessage",),
        ("${aws_sqs_queue.failed_invocations.arn}",),
    )


def test_the_mapping_reports_partial_failures_in_bounded_batches() -> None:
    mapping = resource("aws_lambda_event_source_mapping", "events")
    assert mapping["event_source_arn"] == "${aws_sqs_queue.events[0].arn}"
    assert mapping["function_name"] == "${aws_lambda_function.loadstar.arn}"
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["batch_size"] == "${var.event_batch_size}"
    assert mapping["maximum_batching_window_in_seconds"] == "${var.event_batching_window_seconds}"
    assert mapping["scaling_config"] == [
        {"maximum_concurrency": "${var.event_maximum_concurrency}"}
    ]
    assert default("event_batch_size") == 100
    assert default("event_batching_window_seconds") == 10
    assert default("event_maximum_concurrency") == 2
    # AWS accepts no maximum concurrency below 2.
    [validation] = merged(module(), "variable")["event_maximum_concurrency"]["validation"]
    assert "var.event_maximum_concurrency >= 2" in validation["condition"]
    # Lambda checks the role's permissions when it creates the mapping.
    assert mapping["depends_on"] == ["${aws_iam_role_policy.function}"]


def test_the_event_queue_outlasts_a_run_and_gives_up_after_five_receives() -> None:
    queue = resource("aws_sqs_queue", "events")
    assert queue["visibility_timeout_seconds"] == "${6 * var.timeout}"
    assert squash(queue["redrive_policy"]) == squash(
        "${jsonencode({deadLetterTargetArn = aws_sqs_queue.event_dead_letters[0].arn,"
        " maxReceiveCount = 5})}"
    )
    dead_letters = resource("aws_sqs_queue", "event_dead_letters")
    assert dead_letters["sqs_managed_sse_enabled"] is True
    assert dead_letters["message_retention_seconds"] == 14 * 24 * 3600
    # A moved message keeps its first enqueue time: the DLQ must keep longer.
    assert queue["message_retention_seconds"] < dead_letters["message_retention_seconds"]
    allow = resource("aws_sqs_queue_redrive_allow_policy", "event_dead_letters")
    assert allow["queue_url"] == "${aws_sqs_queue.event_dead_letters[0].id}"
    assert (
        'redrivePermission = "byQueue", sourceQueueArns = aws_sqs_queue.events[*].arn'
        in (allow["redrive_allow_policy"])
    )


def test_only_this_bucket_of_this_account_may_send_to_the_queue() -> None:
    found = [s for s in queue_policy_statements() if s.document == "event_queue"]
    assert [(s.actions, s.resources, s.principals, s.conditions) for s in found] == [
        (
            ("sqs:SendMessage",),
            ("${aws_sqs_queue.events[0].arn}",),
            (("Service", ("s3.amazonaws.com",)),),
            (
                ("ArnEquals", "aws:SourceArn", ("${local.bucket_arn}",)),
                ("StringEquals", "aws:SourceAccount", ("${local.account_id}",)),
            ),
        )
    ]
    policy = resource("aws_sqs_queue_policy", "events")
    assert policy["queue_url"] == "${aws_sqs_queue.events[0].id}"
    assert policy["policy"] == "${data.aws_iam_policy_document.event_queue[0].json}"


def test_only_the_object_rule_may_send_to_the_dead_letter_queue() -> None:
    found = [s for s in queue_policy_statements() if s.document == "event_dead_letters"]
    assert [(s.actions, s.resources, s.principals, s.conditions) for s in found] == [
        (
            ("sqs:SendMessage",),
            ("${aws_sqs_queue.event_dead_letters[0].arn}",),
            (("Service", ("events.amazonaws.com",)),),
            (
                (
                    "ArnEquals",
                    "aws:SourceArn",
                    ("${aws_cloudwatch_event_rule.object_created[0].arn}",),
                ),
            ),
        )
    ]


def test_every_queue_policy_admits_one_service_from_one_source() -> None:
    found = queue_policy_statements()
    assert {s.document for s in found} == {"event_queue", "event_dead_letters"}
    for statement in found:
        [(kind, identifiers)] = statement.principals
        assert kind == "Service", statement
        assert len(identifiers) == 1, statement
        assert statement.actions == ("sqs:SendMessage",), statement
        assert "*" not in statement.resources, statement
        assert any(variable == "aws:SourceArn" for _, variable, _ in statement.conditions)


def test_the_bucket_notifies_the_queue_of_new_files_under_each_table_prefix() -> None:
    notification = resource("aws_s3_bucket_notification", "events")
    assert notification["bucket"] == "${var.bucket_name}"
    assert notification["eventbridge"] == "${local.eventbridge_events}"
    [dynamic] = notification["dynamic"]
    queue = dynamic["queue"]
    assert queue["for_each"] == "${local.sqs_events ? var.prefixes : []}"
    assert queue["content"] == [
        {
            "queue_arn": "${aws_sqs_queue.events[0].arn}",
            "events": ["s3:ObjectCreated:*"],
            "filter_prefix": "${queue.value}",
            "filter_suffix": "${var.suffix}",
        }
    ]
    assert default("suffix") == ".parquet"
    # S3 validates the destination when the configuration is written.
    assert notification["depends_on"] == ["${aws_sqs_queue_policy.events}"]
    # The configuration replaces the bucket's whole one: it can be left out.
    assert default("manage_bucket_notification") is True


def test_the_object_rule_matches_the_table_prefixes_and_keeps_what_it_cannot_deliver() -> None:
    rule = resource("aws_cloudwatch_event_rule", "object_created")
    assert squash(rule["event_pattern"]) == squash(
        '${jsonencode({source = ["aws.s3"], "detail-type" = ["Object Created"],'
        " detail = {bucket = {name = [var.bucket_name]},"
        " object = {key = local.object_key_patterns}}})}"
    )
    patterns = squash(local("object_key_patterns"))
    assert patterns.startswith(squash("${[for prefix in var.prefixes :"))
    assert squash("tomap({prefix = prefix})") in patterns
    assert squash('tomap({wildcard = "${replace(prefix,') in patterns

    target = resource("aws_cloudwatch_event_target", "object_created")
    assert target["rule"] == "${aws_cloudwatch_event_rule.object_created[0].name}"
    assert target["arn"] == "${aws_lambda_function.loadstar.arn}"
    assert target["dead_letter_config"] == [{"arn": "${aws_sqs_queue.event_dead_letters[0].arn}"}]
    [retry] = target["retry_policy"]
    assert retry["maximum_event_age_in_seconds"] == "${var.maximum_event_age_seconds}"

    permission = resource("aws_lambda_permission", "object_created")
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["source_arn"] == "${aws_cloudwatch_event_rule.object_created[0].arn}"


def test_the_event_alarms_watch_the_dead_letters_and_the_oldest_message() -> None:
    dead_letters, age = alarms()["event_dead_letters"], alarms()["event_age"]
    assert (dead_letters["namespace"], dead_letters["metric_name"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert dead_letters["dimensions"] == {
        "QueueName": "${aws_sqs_queue.event_dead_letters[0].name}"
    }
    assert (dead_letters["comparison_operator"], dead_letters["threshold"]) == (
        "GreaterThanThreshold",
        0,
    )
    assert (age["namespace"], age["metric_name"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert age["dimensions"] == {"QueueName": "${aws_sqs_queue.events[0].name}"}
    assert (age["comparison_operator"], age["threshold"]) == (
        "GreaterThanThreshold",
        "${var.event_age_threshold_seconds}",
    )
    assert default("event_age_threshold_seconds") == 300
    for alarm in (dead_letters, age):
        # An empty queue sends no data; that is not a breach.
        assert alarm["treat_missing_data"] == "notBreaching"
        assert alarm["statistic"] == "Maximum"


def test_the_alarm_names_output_names_every_alarm() -> None:
    named = squash(str(merged(module(), "output")["alarm_names"]["value"]))
    for address in alarms():
        name = address.split("[")[0]
        assert f"aws_cloudwatch_metric_alarm.{name}" in named, address


# --- Alarms ----------------------------------------------------------------------------


EACH_VALUE = re.compile(r"\$\{each\.value\.(\w+)\}")


def instance(value: Any, key: str, values: dict[str, Any]) -> Any:
    """``value`` with ``each.key`` and ``each.value.<attribute>`` replaced, as for one instance."""
    if isinstance(value, dict):
        return {name: instance(item, key, values) for name, item in value.items()}
    if isinstance(value, list):
        return [instance(item, key, values) for item in value]
    if not isinstance(value, str):
        return value
    whole = EACH_VALUE.fullmatch(value)
    if whole:
        return values[whole.group(1)]
    text = value.replace("${each.key}", key)
    assert "each." not in text, value  # each.value inside a longer string: not handled
    return text


def alarms() -> dict[str, dict[str, Any]]:
    """Every alarm by its address in the module, one per instance of a for_each over a local."""
    found: dict[str, dict[str, Any]] = {}
    for name, body in blocks(module(), "resource", "aws_cloudwatch_metric_alarm").items():
        if "for_each" not in body:
            found[name] = body
            continue
        over = re.fullmatch(r"\$\{local\.(\w+)\}", body["for_each"])
        assert over, body["for_each"]
        rest = {k: v for k, v in body.items() if k != "for_each"}
        for key, values in local(over.group(1)).items():
            found[f'{name}["{key}"]'] = instance(rest, key, values)
    return found


def test_alarm_instances_are_read_as_terraform_makes_them() -> None:
    body = {"alarm_name": "${var.name}-${each.key}", "threshold": "${each.value.threshold}"}
    assert instance(body, "stale", {"threshold": "${var.t}"}) == {
        "alarm_name": "${var.name}-stale",
        "threshold": "${var.t}",
    }
    with pytest.raises(AssertionError):
        instance({"alarm_name": "${var.name}-${each.value.suffix}"}, "stale", {"suffix": "x"})


def test_alarms_on_loadstar_metrics_use_metrics_it_emits() -> None:
    every = {n: a for n, a in alarms().items() if a["namespace"] == "${var.metrics_namespace}"}
    assert {a["metric_name"] for a in every.values()} == {
        "NewestLoadedAgeSeconds",
        "OldestPendingAgeSeconds",
        "FilesNeedingAttention",
    }
    for name, alarm in every.items():
        assert alarm["metric_name"] in EMITTED_METRICS, name
        assert alarm["dimensions"] == {SERVICE_DIMENSION: "${var.name}"}, name
    own = {n: a for n, a in every.items() if n.startswith("staleness")}
    for name, alarm in own.items():
        assert alarm["metric_name"] in EMITTED_METRICS, name
        # The function emits Service = LOADSTAR_SERVICE = var.name.
        assert alarm["dimensions"] == {SERVICE_DIMENSION: "${var.name}"}, name
        assert alarm["statistic"] == "Maximum", name
        # No metrics for a whole period: no run got as far as listing.
        assert alarm["treat_missing_data"] == "breaching", name
        # No runs are expected while the schedule is off.
        assert alarm["actions_enabled"] == "${var.schedule_enabled}", name
    stale, backlog = own['staleness["stale"]'], own['staleness["backlog"]']
    # The names the README and the alarm_names output give.
    assert (stale["alarm_name"], backlog["alarm_name"]) == (
        "${var.name}-stale",
        "${var.name}-backlog",
    )
    assert stale["metric_name"] == "NewestLoadedAgeSeconds"
    assert stale["threshold"] == "${var.newest_loaded_age_threshold_seconds}"
    assert default("newest_loaded_age_threshold_seconds") == 86400
    assert backlog["metric_name"] == "OldestPendingAgeSeconds"
    assert backlog["threshold"] == "${var.oldest_pending_age_threshold_seconds}"
    assert default("oldest_pending_age_threshold_seconds") == 3600


def test_files_needing_attention_raise_an_alarm_though_nothing_failed() -> None:
    attention = alarms()["attention"]
    assert attention["metric_name"] == "FilesNeedingAttention"
    assert (attention["comparison_operator"], attention["threshold"]) == (
        "GreaterThanThreshold",
        0,
    )
    # no run, no files to decide about: missing data is not a breach here
    assert attention["treat_missing_data"] == "notBreaching"
    assert attention["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]


def test_the_errors_alarm_watches_the_function() -> None:
    errors = alarms()["errors"]
    assert (errors["namespace"], errors["metric_name"]) == ("AWS/Lambda", "Errors")
    assert errors["dimensions"] == {"FunctionName": "${aws_lambda_function.loadstar.function_name}"}
    assert (errors["comparison_operator"], errors["threshold"]) == ("GreaterThanThreshold", 0)
    assert errors["treat_missing_data"] == "notBreaching"


def test_the_failed_invocations_alarm_watches_the_queue() -> None:
    queue = alarms()["failed_invocations"]
    assert (queue["namespace"], queue["metric_name"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert queue["dimensions"] == {"QueueName": "${aws_sqs_queue.failed_invocations.name}"}
    assert (queue["comparison_operator"], queue["threshold"]) == ("GreaterThanThreshold", 0)


def test_every_alarm_notifies_the_topic_and_may_publish_to_it() -> None:
    topic = resource("aws_sns_topic", "alarms")
    assert topic["kms_master_key_id"] == "${aws_kms_key.monitoring.arn}"
    [publish] = [
        s for s in key_statements() if ("Service", ("cloudwatch.amazonaws.com",)) in s.principals
    ]
    assert set(publish.actions) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    [source_arn] = [
        values for _, variable, values in publish.conditions if variable == "aws:SourceArn"
    ]

    def arn(text: str) -> str:
        for placeholder, value in {
            "${local.partition}": "aws",
            "${local.region}": "eu-west-2",
            "${local.account_id}": "123456789012",
            "${var.name}": "loadstar",
        }.items():
            text = text.replace(placeholder, value)
        return text

    # Five in every mode, and two more in events mode: the dead-letter queue's
    # depth (both event sources) and the event queue's oldest message (SQS).
    assert len(alarms()) == 7
    only_in_events_mode = {
        name: alarm["count"] for name, alarm in alarms().items() if "count" in alarm
    }
    assert only_in_events_mode == {
        "event_dead_letters": "${local.events_mode ? 1 : 0}",
        "event_age": "${local.sqs_events ? 1 : 0}",
    }
    for name, alarm in alarms().items():
        assert alarm["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"], name
        assert alarm["ok_actions"] == ["${aws_sns_topic.alarms.arn}"], name
        alarm_arn = arn(
            f"arn:${{local.partition}}:cloudwatch:${{local.region}}:"
            f"${{local.account_id}}:alarm:{alarm['alarm_name']}"
        )
        # An alarm the key does not admit would fail to publish, silently.
        assert any(iam_like(arn(pattern), alarm_arn) for pattern in source_arn), name


def test_logs_may_use_the_key_for_this_log_group_only() -> None:
    [logs] = [
        s
        for s in key_statements()
        if any(
            t == "Service" and any(i.startswith("logs.") for i in ids) for t, ids in s.principals
        )
    ]
    assert logs.conditions == (
        ("ArnEquals", "kms:EncryptionContext:aws:logs:arn", ("${local.log_group_arn}",)),
    )
    assert resource("aws_cloudwatch_log_group", "function")["kms_key_id"] == (
        "${aws_kms_key.monitoring.arn}"
    )


# --- Checkov skips, outputs, the example -------------------------------------------------

CHECKOV_SKIPS = [
    "CKV_AWS_115",  # concurrency: no reservation by default; the SQS mapping bounds it
    "CKV_AWS_50",  # X-Ray: nothing to trace into
    "CKV_AWS_116",  # DLQ: the on-failure destination is the queue
    "CKV_AWS_173",  # environment CMK: the environment holds no secret
    "CKV_AWS_272",  # code signing: the zip is uploaded directly
    "CKV_AWS_109",  # the key policy's "*" is the key
    "CKV_AWS_111",  # idem
    "CKV_AWS_356",  # idem
]
SKIP = re.compile(r"#\s*checkov:skip=(CKV2?_AWS_\d+):\s*(.*)$")


def test_every_checkov_skip_gives_its_reason() -> None:
    skips = []
    for path in sorted(TERRAFORM.rglob("*.tf")):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                match = SKIP.search(line)
                assert match, line
                assert len(match.group(2).split()) >= 8, line
                skips.append(match.group(1))
    # Each skip is an exception to a security check: adding one is a decision.
    assert sorted(skips) == sorted(CHECKOV_SKIPS)


@pytest.mark.parametrize(
    "name",
    [
        "function_name",
        "function_arn",
        "role_arn",
        "sns_topic_arn",
        "dlq_url",
        "dlq_arn",
        "log_group_name",
    ],
)
def test_outputs(name: str) -> None:
    assert name in merged(module(), "output")
    assert name in merged(example(), "output")


@pytest.mark.parametrize(
    ("name", "expression"),
    [
        ("event_queue_url", "${one(aws_sqs_queue.events[*].url)}"),
        ("event_queue_arn", "${one(aws_sqs_queue.events[*].arn)}"),
        ("event_dlq_url", "${one(aws_sqs_queue.event_dead_letters[*].url)}"),
        ("event_dlq_arn", "${one(aws_sqs_queue.event_dead_letters[*].arn)}"),
        ("event_rule_arn", "${one(aws_cloudwatch_event_rule.object_created[*].arn)}"),
    ],
)
def test_event_outputs_are_null_without_their_resources(name: str, expression: str) -> None:
    assert merged(module(), "output")[name]["value"] == expression


def test_the_example_can_turn_events_mode_on() -> None:
    [call] = [m["loadstar"] for m in example()["module"] if "loadstar" in m]
    for name in ("mode", "event_source", "manage_bucket_notification", "schedule_expression"):
        assert call[name] == f"${{var.{name}}}", name
    variables = merged(example(), "variable")
    # The example's defaults are the module's, so leaving them out changes nothing.
    for name in ("mode", "event_source", "manage_bucket_notification", "schedule_expression"):
        assert variables[name].get("default") == default(name), name
    assert (
        'mode                       = "events"'
        in (EXAMPLE / "terraform.tfvars.example").read_text()
    )


def test_the_module_needs_aws_provider_5_or_later() -> None:
    [terraform] = module()["terraform"]
    [providers] = terraform["required_providers"]
    assert providers["aws"]["source"] == "hashicorp/aws"
    assert re.match(r">=\s*5\.", providers["aws"]["version"])


def test_the_example_configures_the_region_and_sets_what_the_module_requires() -> None:
    [provider] = [p["aws"] for p in example()["provider"] if "aws" in p]
    assert provider["region"] == "${var.region}"
    [call] = [m["loadstar"] for m in example()["module"] if "loadstar" in m]
    assert call["source"] == "../../modules/loadstar"
    required = {n for n, v in merged(module(), "variable").items() if "default" not in v}
    assert required <= set(call)

    tfvars = parse((EXAMPLE / "terraform.tfvars.example").read_text())
    needed = {n for n, v in merged(example(), "variable").items() if "default" not in v}
    assert needed <= set(tfvars)


# --- The dashboard -------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRow:
    """One line of a dashboard graph: namespace, metric and dimensions, as HCL expressions."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]


# A row inside the text of a for expression: [namespace, "Metric", dimension pairs..., {options}]
METRIC_ROW = re.compile(
    r'\[\s*([\w.]+|"[^"]*")\s*,\s*"(\w+)"((?:\s*,\s*(?:[\w.]+|"[^"]*"))*)\s*,\s*\{'
)


def _expression(value: Any) -> str:
    """An item as HCL wrote it, without ``${...}`` around an expression or quotes around text."""
    text = str(value).strip()
    whole = re.fullmatch(r"\$\{(.*)\}", text, flags=re.DOTALL)
    if whole:
        return whole.group(1)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _metric_row(items: list[str]) -> MetricRow:
    namespace, name, *dimensions = items
    assert len(dimensions) % 2 == 0, items
    return MetricRow(namespace, name, tuple(zip(dimensions[::2], dimensions[1::2], strict=True)))


def metric_rows(value: Any) -> list[MetricRow]:
    """Every graph line in widgets as python-hcl2 reads them: literal ``metrics`` lists, and
    the text of a for expression that builds widgets."""
    if isinstance(value, dict):
        found: list[MetricRow] = []
        for key, item in value.items():
            if key == "metrics" and isinstance(item, list):
                found.extend(
                    _metric_row([_expression(x) for x in row if not isinstance(x, dict)])
                    for row in item
                )
            else:
                found.extend(metric_rows(item))
        return found
    if isinstance(value, list):
        return [row for item in value for row in metric_rows(item)]
    if isinstance(value, str):
        rows = []
        for match in METRIC_ROW.finditer(value):
            namespace, name, rest = match.groups()
            dimensions = [p for p in (part.strip() for part in rest.split(",")) if p]
            rows.append(_metric_row([_expression(x) for x in (namespace, name, *dimensions)]))
        # Every metrics list in the text is one the pattern read.
        assert value.count("metrics = [[") <= len(rows), value
        return rows
    return []


def dashboard_rows() -> list[MetricRow]:
    return metric_rows([local("dashboard_overview"), local("dashboard_tables")])


@functools.cache
def emitted_by_dimensions() -> dict[frozenset[str], frozenset[str]]:
    """The metrics a run's EMF documents carry, by the dimension names they come under."""
    now = datetime(2024, 5, 24, 12, tzinfo=UTC)
    table = TableSummary(files_loaded=1, rows_written=10, lags=[1.5])
    table.listed(now, {"dimension/staff-2024-05-24.parquet": now})
    summary = RunSummary(run_id="r1", bucket="b", tables={"dim_staff": table}, seconds=1.0)
    found: dict[frozenset[str], set[str]] = {}
    for document in report.emf_documents(summary, namespace="N", service="s", now=now):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            [dimensions] = directive["Dimensions"]
            found.setdefault(frozenset(dimensions), set()).update(
                metric["Name"] for metric in directive["Metrics"]
            )
    return {dimensions: frozenset(names) for dimensions, names in found.items()}


def test_the_dashboard_reader_finds_every_graph_line_however_it_is_written() -> None:
    config = parse(
        "locals {\n"
        '  literal = [{ properties = { metrics = [[var.metrics_namespace, "FilesLoded", '
        '"Service", var.name, { stat = "Sum" }]] } }]\n'
        "  built = [for t in var.tables : { properties = { metrics = [[var.metrics_namespace, "
        '"RowsLoaded", "Service", var.name, "Table", t, { stat = "Sum" }]] } }]\n'
        "}\n"
    )
    [locals_] = config["locals"]
    assert metric_rows([locals_["literal"], locals_["built"]]) == [
        MetricRow("var.metrics_namespace", "FilesLoded", (("Service", "var.name"),)),
        MetricRow("var.metrics_namespace", "RowsLoaded", (("Service", "var.name"), ("Table", "t"))),
    ]


def test_the_metrics_a_run_emits_are_all_known_to_the_dashboard_tests() -> None:
    emitted = emitted_by_dimensions()
    # The synthetic run reports every metric loadstar has, so nothing escapes the checks.
    assert frozenset().union(*emitted.values()) == EMITTED_METRICS
    assert set(emitted) == {
        frozenset({SERVICE_DIMENSION}),
        frozenset({SERVICE_DIMENSION, TABLE_DIMENSION}),
    }


def test_the_dashboard_is_on_by_default_named_like_the_function_and_can_be_turned_off() -> None:
    dashboard = resource("aws_cloudwatch_dashboard", "loadstar")
    assert dashboard["count"] == "${var.dashboard_enabled ? 1 : 0}"
    assert default("dashboard_enabled") is True
    assert dashboard["dashboard_name"] == "${var.name}"
    assert squash(dashboard["dashboard_body"]) == squash(
        "${jsonencode({widgets = concat(local.dashboard_overview, local.dashboard_tables)})}"
    )
    outputs = merged(module(), "output")
    assert outputs["dashboard_name"]["value"] == (
        "${one(aws_cloudwatch_dashboard.loadstar[*].dashboard_name)}"
    )
    assert merged(example(), "output")["dashboard_name"]["value"] == (
        "${module.loadstar.dashboard_name}"
    )


def test_the_dashboard_graphs_only_metrics_loadstar_emits_in_its_namespace() -> None:
    emitted = emitted_by_dimensions()
    rows = dashboard_rows()
    own = [row for row in rows if row.namespace == "var.metrics_namespace"]
    assert len(own) >= 10
    for row in own:
        dimensions = dict(row.dimensions)
        # The function reports under Service = LOADSTAR_SERVICE = var.name.
        assert dimensions[SERVICE_DIMENSION] == "var.name", row
        assert row.name in emitted[frozenset(dimensions)], row
    # Besides loadstar's own, only the function's errors: runs that failed before reporting.
    others = {row for row in rows if row not in own}
    assert others == {
        MetricRow(
            "AWS/Lambda",
            "Errors",
            (("FunctionName", "aws_lambda_function.loadstar.function_name"),),
        )
    }
    text = (MODULE / "dashboard.tf").read_text()
    # Every graph line of the file was read, and none names the namespace's default itself.
    assert len(re.findall(r"\[\s*var\.metrics_namespace\s*,", text)) == len(own)
    assert default("metrics_namespace") not in text


def test_the_dashboard_shows_runs_failures_lag_and_backlog_and_each_table() -> None:
    rows = dashboard_rows()
    whole = {row.name for row in rows if len(row.dimensions) == 1}
    assert {
        "FilesLoaded",
        "RowsLoaded",
        "FilesFailed",
        "FilesNeedingAttention",
        "IngestLagSeconds",
        "FilesPending",
        "OldestPendingAgeSeconds",
        "NewestLoadedAgeSeconds",
        "DurationMs",
    } <= whole
    per_table = [row for row in rows if len(row.dimensions) == 2]
    assert {row.name for row in per_table} == emitted_by_dimensions()[
        frozenset({SERVICE_DIMENSION, TABLE_DIMENSION})
    ]
    assert {dict(row.dimensions)[TABLE_DIMENSION] for row in per_table} == {"table"}
    assert squash(local("dashboard_tables")).startswith(
        squash("${[for index, table in var.dashboard_tables :")
    )
    # The built-in catalogue gets its graphs without configuration.
    assert default("dashboard_tables") == [spec.name for spec in default_catalogue()]


def test_the_dashboard_shows_every_alarm_and_the_failed_files_log_lines() -> None:
    names = squash(local("dashboard_alarm_names"))
    for address in blocks(module(), "resource", "aws_cloudwatch_metric_alarm"):
        assert f"aws_cloudwatch_metric_alarm.{address}" in names, address
    [logs] = [w for w in local("dashboard_overview") if w["type"] == "log"]
    query = logs["properties"]["query"]
    assert "SOURCE '${aws_cloudwatch_log_group.function.name}'" in query
    assert 'filter event = \\"file_failed\\"' in query
    # The event name the query filters on is the one a failed file's line carries.
    assert '"file_failed"' in inspect.getsource(report.file_outcome)


def test_the_dashboard_widgets_fit_the_grid_without_overlapping() -> None:
    overview = local("dashboard_overview")
    boxes = [(w["x"], w["y"], w["width"], w["height"]) for w in overview]
    for x, _, width, _ in boxes:
        assert x >= 0
        assert x + width <= 24
    for i, (x, y, w, h) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
    # The tables' graphs, three 8-wide to a row, start below the overview.
    below = max(y + h for _, y, _, h in boxes)
    tables = squash(local("dashboard_tables"))
    assert squash(f"y = {below} + floor(index / 3) * 6") in tables
    assert squash("x = (index % 3) * 8") in tables
