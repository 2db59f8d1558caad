"""The Lambda zip, built as `make package` builds it, loads a bucket from its own folder.

The zip is built once, for this machine's Python and architecture, and unzipped
into an empty folder. The handler then runs in a fresh interpreter that sees
that folder and a second one holding only boto3 and its dependencies, as
Lambda's /var/task and runtime do, and nothing of this virtualenv.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import pytest
from deploy.package import (
    PROVIDED_BY_RUNTIME,
    RUNTIME_GLIBC,
    UNZIPPED_LIMIT,
    ZIPPED_LIMIT,
    BuildError,
    add_catalogue,
    elf_files,
    main,
    missing_libraries,
    normalize,
    platform_tags,
    read_elf,
    size_problems,
    zip_time,
)
from mypy_boto3_s3 import S3Client
from packaging.requirements import Requirement

from loadstar.dev.local import LOCAL_AWS_ENV, LocalServices
from loadstar.dev.sample import terrific_totes
from support import Conn, assert_exact, put_files

ROOT = Path(__file__).resolve().parents[2]
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine())
# Named by the catalogue shipped in the zip, so that a run finding it proves
# the handler read /var/task/loadstar.toml.
SMOKE_BUCKET = "loadstar-package-smoke"

# What the handler process reports: run from the unzipped folder with only
# that folder and the runtime's folder on sys.path.
HANDLER_RUN = """
import importlib, json, sys

task, runtime, out = sys.argv[1:4]
sys.path[:0] = [task, runtime]


def importable(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


class Context:
    aws_request_id = "package-smoke"
    function_name = "loadstar"

    def get_remaining_time_in_millis(self):
        return 600_000


module, _, function = "loadstar.handler.lambda_handler".rpartition(".")
summary = getattr(importlib.import_module(module), function)({}, Context())

import boto3, loadstar, psycopg, pyarrow

report = {
    "summary": summary,
    "sys_path": sys.path,
    "files": {m.__name__: m.__file__ for m in (boto3, loadstar, psycopg, pyarrow)},
    "psycopg_impl": psycopg.pq.__impl__,
    "importable": {
        name: importable(name) for name in ("numpy", "pandas", "pgpq", "pyarrow.flight")
    },
}
with open(out, "w") as fh:
    json.dump(report, fh, default=str)
"""


@dataclass
class Built:
    zip: Path
    site: Path
    output: str


def host_glibc() -> tuple[int, int] | None:
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        return None
    major, _, minor = version.removeprefix("glibc ").partition(".")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The zip for this machine, built once: pip downloads wheels (pip's cache helps)."""
    glibc = host_glibc()
    if ARCH is None or PYTHON not in RUNTIME_GLIBC or glibc is None:
        pytest.skip(f"no Lambda runtime matches Python {PYTHON} on {platform.machine()}")
    if glibc < RUNTIME_GLIBC[PYTHON]:
        pytest.skip(f"this glibc {glibc} is older than python{PYTHON}'s runtime's")
    work = tmp_path_factory.mktemp("package")
    catalogue = work / "catalogue.toml"
    catalogue.write_text(f'[source]\nbucket = "{SMOKE_BUCKET}"\n')
    zip_path = work / "loadstar-lambda.zip"
    command = [sys.executable, "-m", "deploy.package", "--python", PYTHON, "--arch", ARCH]
    command += ["--config", str(catalogue), "--output", str(zip_path)]
    command += ["--build-dir", str(work / "build")]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Built(zip_path, work / "build" / "site", done.stdout)


@pytest.fixture(scope="module")
def task(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zip unzipped into an empty folder, as Lambda's /var/task."""
    folder = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(built.zip) as zf:
        zf.extractall(folder)
    return folder


def requirement_closure(name: str) -> set[str]:
    """``name`` and every distribution it needs, as installed here."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = normalize(todo.pop())
        if current in seen:
            continue
        seen.add(current)
        for line in distribution(current).requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """boto3 and its dependencies alone, copied from this virtualenv, as Lambda's runtime."""
    folder = tmp_path_factory.mktemp("runtime")
    for name in requirement_closure("boto3"):
        dist = distribution(name)
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            target = folder / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(str(dist.locate_file(file))), target)
    return folder


@pytest.fixture
def smoke_bucket(s3: S3Client) -> Iterator[str]:
    s3.create_bucket(Bucket=SMOKE_BUCKET)
    yield SMOKE_BUCKET
    listed = s3.list_objects_v2(Bucket=SMOKE_BUCKET).get("Contents", [])
    for item in listed:
        s3.delete_object(Bucket=SMOKE_BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=SMOKE_BUCKET)


def test_the_unzipped_package_loads_a_bucket_with_only_boto3_beside_it(
    task: Path,
    runtime: Path,
    stack: LocalServices,
    database: str,
    db: Conn,
    s3: S3Client,
    smoke_bucket: str,
    tmp_path: Path,
) -> None:
    files = terrific_totes(2, 20)
    put_files(s3, smoke_bucket, files)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        **LOCAL_AWS_ENV,
        "AWS_ENDPOINT_URL": stack.endpoint_url,
        "LOADSTAR_DATABASE_URL": database,
        "LOADSTAR_CONFIG": str(task / "loadstar.toml"),
    }
    out = tmp_path / "report.json"
    # -I -S: no environment variables of Python's, no site-packages, no current
    # folder; sys.path is the standard library until the script adds two folders.
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", HANDLER_RUN, str(task), str(runtime), str(out)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.read_text())

    summary = report["summary"]
    assert summary["status"] == "loaded"
    assert summary["bucket"] == SMOKE_BUCKET
    assert summary["files_loaded"] == len(files)
    assert_exact(db, files)

    # Everything but boto3 came from the zip; nothing came from this virtualenv.
    assert [p for p in report["sys_path"] if "site-packages" in p] == []
    for name in ("loadstar", "psycopg", "pyarrow"):
        assert Path(report["files"][name]).is_relative_to(task), name
    assert Path(report["files"]["boto3"]).is_relative_to(runtime)
    assert report["importable"] == {
        "numpy": False,
        "pandas": False,
        "pgpq": True,
        "pyarrow.flight": False,
    }
    # Lambda has no libpq of its own: the one inside psycopg's wheel must be in use.
    assert report["psycopg_impl"] == "binary"
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    facts = [
        line
        for line in lines
        if line.get("event") == "file_loaded" and line.get("table") == "fact_sales_order"
    ]
    assert len(facts) == 2
    assert {line["copy_format"] for line in facts} == {"binary"}  # pgpq's encoder


def test_boto3_and_its_dependencies_are_left_to_the_runtime(built: Built) -> None:
    with zipfile.ZipFile(built.zip) as zf:
        top = {name.split("/")[0] for name in zf.namelist()}
    modules = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3"}
    assert top & modules == set()
    dists = {normalize(t.partition("-")[0]) for t in top if t.endswith(".dist-info")}
    assert dists & set(PROVIDED_BY_RUNTIME) == set()
    assert {"loadstar", "pyarrow", "psycopg", "psycopg_binary", "pgpq"} <= top


def test_the_runtime_list_is_what_boto3_needs() -> None:
    assert requirement_closure("boto3") == set(PROVIDED_BY_RUNTIME)


def test_the_zip_is_sorted_stamped_and_readable_by_all(built: Built) -> None:
    with zipfile.ZipFile(built.zip) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {zip_time()}
    modes = {i.filename: i.external_attr >> 16 & 0o777 for i in infos}
    assert {m for n, m in modes.items() if n.endswith("/")} == {0o755}
    assert {m for n, m in modes.items() if n.endswith(".so")} == {0o755}
    assert {m for n, m in modes.items() if n.endswith((".py", ".sql", ".toml"))} == {0o644}
    assert set(modes.values()) == {0o644, 0o755}
    shipped = {"loadstar/handler.py", "loadstar/warehouse/sql/warehouse.sql", "loadstar.toml"}
    assert shipped <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    # the local stack, samples and demo stay out of the Lambda
    assert not [n for n in names if n.startswith("loadstar/dev/")]


def test_what_was_trimmed_is_gone(built: Built) -> None:
    with zipfile.ZipFile(built.zip) as zf:
        names = zf.namelist()
    gone = ("pyarrow/include/", "pyarrow/tests/", "pyarrow/_flight.", "pyarrow/libarrow_flight.")
    assert [n for n in names if n.startswith(gone) or n.endswith((".pyx", ".pxd", ".h"))] == []
    libraries = [n for n in names if "/libarrow_python.so" in n]
    assert len(libraries) == 1, libraries  # the soname's copy only


def test_the_build_prints_both_sizes_and_they_are_within_the_limits(built: Built) -> None:
    with zipfile.ZipFile(built.zip) as zf:
        unzipped = sum(i.file_size for i in zf.infolist())
    zipped = built.zip.stat().st_size
    printed = dict(re.findall(r"^(zipped|unzipped): +([\d,]+) bytes", built.output, re.MULTILINE))
    assert printed == {"zipped": f"{zipped:,}", "unzipped": f"{unzipped:,}"}
    assert zipped <= ZIPPED_LIMIT
    assert unzipped <= UNZIPPED_LIMIT


@pytest.mark.parametrize(
    ("zipped", "unzipped", "expected"),
    [
        (ZIPPED_LIMIT, UNZIPPED_LIMIT, []),
        (1, UNZIPPED_LIMIT + 1, ["unzipped size 262,144,001 bytes", "by 1 bytes"]),
        (ZIPPED_LIMIT + 5, 10, ["zipped size 52,428,805 bytes", "direct upload by 5 bytes"]),
    ],
)
def test_size_problems_say_which_limit_and_by_how_much(
    zipped: int, unzipped: int, expected: list[str]
) -> None:
    problems = size_problems(zipped, unzipped)
    assert len(problems) == (1 if expected else 0)
    for part in expected:
        assert part in problems[0]


def test_both_limits_broken_are_both_reported() -> None:
    problems = size_problems(ZIPPED_LIMIT + 1, UNZIPPED_LIMIT + 2)
    assert [p.split(" ")[0] for p in problems] == ["unzipped", "zipped"]


def test_a_library_that_others_link_against_is_missed(built: Built, tmp_path: Path) -> None:
    elves = elf_files(built.site)
    shipped = {p.name for p in elves}
    assert missing_libraries(built.site, shipped) == []
    # the Parquet module alone, without the libraries it links against
    module = next(p for p in elves if p.name.startswith("_parquet.cpython"))
    shutil.copyfile(module, tmp_path / module.name)
    missing = missing_libraries(tmp_path, shipped)
    assert any("needs libparquet.so." in m for m in missing), missing


def test_read_elf_reads_the_soname_and_what_a_library_needs(built: Built) -> None:
    elves = elf_files(built.site)
    parquet = next(e for p, e in elves.items() if p.name.startswith("libparquet.so."))
    assert parquet.machine == platform.machine()
    assert str(parquet.soname).startswith("libparquet.so.")
    assert any(name.startswith("libarrow.so.") for name in parquet.needed)
    assert read_elf(built.site / "loadstar" / "handler.py") is None


def test_platform_tags_stop_at_the_runtimes_glibc() -> None:
    tags = platform_tags((2, 26), "x86_64")
    assert "manylinux_2_26_x86_64" in tags
    assert {"manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux1_x86_64"} <= set(tags)
    assert "manylinux_2_28_x86_64" not in tags
    assert "manylinux_2_34_aarch64" in platform_tags((2, 34), "aarch64")


def test_a_catalogue_that_would_not_load_fails_the_build(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    bad = tmp_path / "bad.toml"
    bad.write_text("[tables]\n")
    with pytest.raises(BuildError, match="would not load"):
        add_catalogue(site, bad)
    good = tmp_path / "good.toml"
    good.write_text('[source]\nbucket = "b"\n')
    add_catalogue(site, good)
    assert (site / "loadstar.toml").read_text() == good.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--python", "3.10"], "python '3.10': Lambda runtimes loadstar runs on are 3.11"),
        (["--arch", "arm"], "arch 'arm': Lambda's architectures are x86_64, arm64"),
    ],
)
def test_runtimes_and_architectures_lambda_lacks_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
