"""`make mutate`: mutation testing of the modules that carry loadstar's guarantees.

mutmut (configured in pyproject's [tool.mutmut]) copies the code to mutants/,
asks mypy which mutants do not even type-check, and runs each other mutant
against the tests that reached its function. This script starts, once, one
embedded PostgreSQL and S3 API server per mutmut worker, and the pytest
session mutmut starts for each mutant attaches to a free one
(``LOADSTAR_TEST_STACKS``, read by tests/conftest.py) instead of starting its
own. It then prints each surviving mutant by file and line, and exits 1 if
any is not recorded as equivalent.

A survivor judged equivalent (no test could tell it from the original) is
recorded in tests/mutation-equivalents.txt by the name and fingerprint this
script prints for it, then a reason:

    loadstar.warehouse.write.x__upsert__mutmut_17 ec0cf39aae  # EXCLUDED -> excluded

It is not listed again while the mutant is the same change; once its function
is edited the fingerprint no longer matches, and it is listed again. A recorded
equivalent is not run: no test told it from the original, and the slowest
mutants to run are exactly these, since each runs every test its module
selects. Its session selects no test; after the run, the recorded ones whose
fingerprint no longer matches are run again, in full (``--equivalents`` runs
them all, e.g. to see whether a new test now kills one).

mutants/ is a cache: a later run tests only the mutants of functions that
changed (a change to [tool.mutmut] retests everything). A change to the tests
alone retests nothing: use --retest, or delete mutants/ to start over.

    python tests/mutate.py              # run (incrementally), then report
    python tests/mutate.py --report     # report on the last run
    python tests/mutate.py NAME...      # rerun these mutants (globs allowed)
    python tests/mutate.py --retest     # rerun the survivors, e.g. after adding tests
    python tests/mutate.py --equivalents  # run the recorded equivalents too
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from difflib import ndiff
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadstar.dev.local import LocalServices

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = ROOT / "tests" / "mutation-equivalents.txt"
NOT_RUN = "LOADSTAR_MUTANTS_NOT_RUN"
"""The recorded equivalents' names, for `tests_for` (the environment of mutmut's sessions)."""
IT = "tests/integration/"

# The warehouse modules' edge tests hold behaviours that cross them (a write's
# ledger row, a foreign key's error text), so each of them runs all four files.
WAREHOUSE_EDGES = tuple(
    IT + f"test_{module}_edges.py" for module in ("errors", "ledger", "write", "foreign_keys")
)

# The tests a module's mutants run: those of [tool.mutmut]'s selection that
# reached the mutated function AND whose node id starts with one of these
# (tests/conftest.py deselects the rest). The end-to-end tests reach nearly
# every function; running them all for every surviving mutant takes hours.
MODULE_TESTS: dict[str, tuple[str, ...]] = {
    "loadstar.source.keys": ("tests/unit/",),
    "loadstar.source.claims": ("tests/unit/",),
    "loadstar.run.pending": ("tests/unit/",),
    "loadstar.run.budget": ("tests/unit/",),
    "loadstar.shape.casting": ("tests/unit/",),
    "loadstar.shape.numbers": ("tests/unit/",),
    "loadstar.shape.instants": ("tests/unit/",),
    "loadstar.shape.text": ("tests/unit/",),
    "loadstar.shape.failures": ("tests/unit/",),
    # which file columns load, and which are dropped (ignore) or refused
    "loadstar.shape.mapping": (
        "tests/unit/",
        IT + "test_columns.py",
        IT + "test_operator.py::test_an_unknown_column",
        IT + "test_operator.py::test_ignore",
    ),
    "loadstar.warehouse.errors": (
        *WAREHOUSE_EDGES,
        "tests/unit/",
        IT + "test_scopes.py",
        IT + "test_privileges.py",
        IT + "test_bad_files.py",  # the few [tool.mutmut] selects
    ),
    "loadstar.warehouse.ledger": (
        *WAREHOUSE_EDGES,
        IT + "test_exactly_once.py",
        IT + "test_runs.py",
        IT + "test_concurrency.py",
        IT + "test_privileges.py",
        IT + "test_bad_files.py::test_a_failed_file_is_retried",
        # the newest loaded file, in loadstar's key order whatever the warehouse's collation
        IT + "test_versions_edges.py::test_files_of_one_instant_apply_in_key_order",
    ),
    "loadstar.warehouse.write": (
        *WAREHOUSE_EDGES,
        IT + "test_exactly_once.py",
        IT + "test_runs.py",
        IT + "test_foreign_keys.py",
        IT + "test_columns.py",
        IT + "test_bad_files.py::test_two_rows_with_one_primary_key",
        IT + "test_guarantees.py::test_every_column_type_changes_to_null_and_back",
        IT + "test_exactness.py::test_a_dimension_keyed_by_an_always_generated_identity",
        # the fact rows COPYed straight into the table: the role without the replica grant
        IT + "test_privileges.py::test_the_documented_role_loads_everything",
        IT + "test_privileges.py::test_without_the_replica_grant_foreign_keys_are_checked_row",
        IT + "test_privileges.py::test_a_fact_without_a_version_key_is_copied_straight",
    ),
    "loadstar.warehouse.foreign_keys": (
        *WAREHOUSE_EDGES,
        IT + "test_foreign_keys.py",
        IT + "test_privileges.py",
        IT + "test_guarantees.py::test_a_missing_foreign_key_is_found_in_any_batch",
        IT + "test_exactness.py::test_a_dimension_change_keeps_every_foreign_key_pointing_into",
        IT + "test_bad_files.py::test_a_bad_fact_file_loads_nothing_and_later_files_still_load"
        "[foreign key that misses]",
    ),
    "loadstar.warehouse.versions": (
        IT + "test_versions_edges.py",
        IT + "test_write_edges.py",
        IT + "test_runs.py",
        IT + "test_exactly_once.py",
        IT + "test_events.py",
        IT + "test_concurrency.py",
    ),
}

STATUS = {
    0: "survived",
    1: "killed",
    3: "killed",
    5: "no tests",  # every test that reached it was outside MODULE_TESTS
    33: "no tests",
    34: "skipped",
    37: "typecheck",
}
TIMEOUT = {24, -24, 36, 152, 255}
COLUMNS = ("killed", "typecheck", "survived", "no tests", "equivalent")


def tests_for(mutant: str) -> tuple[str, ...] | None:
    """Node id prefixes of the tests a mutant (``module.x_function__mutmut_N``) may run."""
    if mutant in os.environ.get(NOT_RUN, "").split():
        return ()
    return MODULE_TESTS.get(mutant.split(".x", 1)[0])


def start_stacks(workdir: Path, count: int) -> list[LocalServices]:
    import psycopg

    from loadstar.dev.local import LocalServices

    stacks = []
    for n in range(count):
        (workdir / str(n)).mkdir()
        stacks.append(LocalServices(workdir / str(n)).start())
        # A throwaway cluster: nothing it holds must survive a crash, and every mutant's
        # session creates databases, which fsync would write through to the disk.
        with psycopg.connect(stacks[-1].database_url(), autocommit=True) as conn:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(f"ALTER SYSTEM SET {setting} = off".encode())
            conn.execute("SELECT pg_reload_conf()")
    return stacks


def run_mutmut(max_children: int, names: list[str], not_run: set[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="loadstar-mutate-") as workdir:
        stacks = start_stacks(Path(workdir), max_children)
        try:
            attach = [
                {
                    "workdir": str(s.workdir),
                    "database_url": s.database_url(),
                    "endpoint_url": s.endpoint_url,
                }
                for s in stacks
            ]
            env = {
                **os.environ,
                "LOADSTAR_TEST_STACKS": json.dumps(attach),
                NOT_RUN: " ".join(sorted(not_run)),
                # [tool.mutmut] type_check_command runs `python -m mypy` from this venv
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            }
            mutmut = Path(sys.executable).with_name("mutmut")
            command = [str(mutmut), "run", "--max-children", str(max_children), *names]
            started = time.monotonic()
            code = subprocess.call(command, cwd=ROOT, env=env)
            print(f"\nmutmut run: exit {code} after {time.monotonic() - started:.0f}s")
            return code
        finally:
            for s in stacks:
                s.stop()


def fingerprint(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:10]


def recorded_equivalents() -> set[tuple[str, str]]:
    if not EQUIVALENTS.exists():
        return set()
    found = set()
    for line in EQUIVALENTS.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) == 2:
            found.add((fields[0], fields[1]))
    return found


def change(name: str, path: str) -> tuple[int, list[str]]:
    """The line of ``path`` a mutant changes first, and its changed lines (- old, + new)."""
    import libcst as cst
    from mutmut.mutation.diff_apply import (
        read_functions_from_index,
        read_mutant_function,
        read_mutants_module,
        read_original_function,
    )
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key

    functions = read_functions_from_index(name, path)
    if functions is None:
        module = read_mutants_module(path)
        functions = (read_original_function(module, name), read_mutant_function(module, name))
    old, new = (cst.Module([f]).code.strip().split("\n") for f in functions)
    # The function as mutmut prints it starts with its comments and decorators.
    def_at = next(i for i, text in enumerate(old) if text.lstrip().startswith(("def ", "async ")))
    func, cls = orig_function_and_class_names_from_key(name)
    body = ast.parse(Path(path).read_text()).body
    if cls is not None:
        body = next(n.body for n in body if isinstance(n, ast.ClassDef) and n.name == cls)
    functions_ = (n for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    def_line = next(n.lineno for n in functions_ if n.name == func)
    changed: list[str] = []
    first, index = 0, 0
    for text in ndiff(old, new):
        tag = text[:2]
        if tag in ("- ", "+ "):
            if not changed:
                first = index
            changed.append(f"{tag[0]} {text[2:].strip()}")
        if tag in ("  ", "- "):
            index += 1
    return def_line + first - def_at, changed


def report() -> int:
    """Counts per module, then every unrecorded survivor; 1 if there is one."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.utils.file_utils import walk_mutatable_files

    os.chdir(ROOT)
    equivalent = recorded_equivalents()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    listed = []
    for path in sorted(walk_mutatable_files()):
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in sorted(data.exit_code_by_key.items()):
            if code is None:
                status = "not checked"
            else:
                status = "timeout" if code in TIMEOUT else STATUS.get(code, f"exit {code}")
            if status not in ("survived", "no tests"):
                counts[str(path)][status] += 1
                continue
            line, lines = change(name, str(path))
            mark = fingerprint(lines)
            if (name, mark) in equivalent:
                counts[str(path)]["equivalent"] += 1
                continue
            counts[str(path)][status] += 1
            listed.append((str(path), line, status, name, mark, lines))

    print(f"{'':38} {'total':>6}" + "".join(f" {column:>10}" for column in COLUMNS))
    for file, count in counts.items():
        other = {k: v for k, v in count.items() if k not in COLUMNS}
        cells = "".join(f" {count[k]:10}" for k in COLUMNS)
        print(f"{file:38} {sum(count.values()):6}{cells}" + (f"  {other}" if other else ""))
    for file, line, status, name, mark, lines in sorted(listed):
        print(f"\n{file}:{line}: {status}\n    {name} {mark}")
        for text in lines:
            print(f"        {text}")
    return 1 if listed else 0


def survivors(equivalent: set[tuple[str, str]]) -> list[str]:
    """The mutants the last run let live and not recorded as equivalent (or recorded for a
    change they no longer make): mutmut keeps their verdict when only tests change."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.utils.file_utils import walk_mutatable_files

    os.chdir(ROOT)
    names = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in data.exit_code_by_key.items():
            if code in (0, 5, 33) and (name, fingerprint(change(name, str(path))[1])) not in (
                equivalent
            ):
                names.append(name)
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description="Mutation testing; see tests/mutate.py.")
    parser.add_argument("--report", action="store_true", help="only report on the last run")
    parser.add_argument("--retest", action="store_true", help="run the survivors again")
    parser.add_argument(
        "--equivalents", action="store_true", help="run the recorded equivalents too"
    )
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("names", nargs="*", help="mutants to run again (names or globs)")
    args = parser.parse_args()
    if not args.report:
        equivalent = recorded_equivalents()
        # a mutant named on the command line runs, even a recorded one
        not_run = set() if args.equivalents else {n for n, _ in equivalent} - set(args.names)
        names = args.names + (survivors(equivalent) if args.retest else [])
        code = run_mutmut(args.max_children, names, not_run)
        if code:
            return code
        # a recorded equivalent whose function changed is a new mutant: run it
        stale = [n for n in survivors(equivalent) if n in not_run]
        if stale:
            print(f"\n{len(stale)} recorded equivalents changed; running them")
            code = run_mutmut(args.max_children, stale, set())
            if code:
                return code
    return report()


if __name__ == "__main__":
    sys.exit(main())
