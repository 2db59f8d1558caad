"""Build loadstar's Lambda deployment zip for one Python runtime and architecture.

    python -m deploy.package --python 3.11 --arch x86_64 [--config catalogue.toml]

The zip holds loadstar from this source tree and the manylinux wheels of its
runtime dependencies, less what the Lambda runtime already provides (boto3 and
what boto3 needs) and less the parts of pyarrow a loader never imports. The
build fails when the result is over Lambda's size limits.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import io
import os
import platform
import re
import shutil
import stat
import struct
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "dist" / "loadstar-lambda.zip"

# The glibc of the image each runtime runs on: python3.11 is on Amazon Linux 2,
# python3.12 and python3.13 on Amazon Linux 2023. pip must not pick a wheel that
# needs a newer glibc: it would install here and fail to import there (pyarrow
# 21 and later need glibc 2.28, so python3.11 gets pyarrow 20).
RUNTIME_GLIBC = {"3.11": (2, 26), "3.12": (2, 34), "3.13": (2, 34)}

# Lambda's architecture names, and the machine names that wheels and ELF use.
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
_ELF_MACHINES = {62: "x86_64", 183: "aarch64"}

# Every Python runtime ships boto3 and its dependencies; a copy in the zip would
# only shadow them and cost about 30 MB unzipped.
PROVIDED_BY_RUNTIME = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
)

# Lambda's limits for a function's code: everything unzipped, and the zip itself
# when it is uploaded directly rather than through S3.
UNZIPPED_LIMIT = 262_144_000
ZIPPED_LIMIT = 52_428_800

# Entries get this time unless SOURCE_DATE_EPOCH says otherwise: the same
# inputs give the same zip.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_MARKER = ".loadstar-package"


class BuildError(Exception):
    """The package cannot be built as asked; the message says why."""


@dataclass(frozen=True)
class Trim:
    """Files of a dependency that loadstar never loads, removed from the zip."""

    what: str
    why: str
    patterns: tuple[str, ...]


TRIMS = (
    Trim(
        "Arrow Flight",
        "an RPC framework; only pyarrow.flight imports it",
        (
            "pyarrow/flight.py",
            "pyarrow/_flight.*.so",
            "pyarrow/libarrow_flight.so*",
            "pyarrow/libarrow_python_flight.so*",
        ),
    ),
    Trim(
        "Arrow's S3 filesystem",
        "loadstar reads objects through boto3; pyarrow.fs imports it only if present",
        ("pyarrow/_s3fs.*.so", "pyarrow/libarrow_s3.so*"),
    ),
    Trim(
        "C++ headers and sources",
        "for compiling against pyarrow",
        ("pyarrow/include", "pyarrow/src", "pyarrow/includes", "pyarrow/*.h"),
    ),
    Trim(
        "Cython sources",
        "compiled into the extension modules already",
        ("pyarrow/**/*.pyx", "pyarrow/**/*.pxd", "pyarrow/**/*.pxi"),
    ),
    Trim(
        "pyarrow's own tests",
        "pyarrow's test suite and its C++ test module",
        ("pyarrow/tests", "pyarrow/_pyarrow_cpp_tests.*.so"),
    ),
)


# --- ELF ---------------------------------------------------------------------


@dataclass(frozen=True)
class Elf:
    """What packaging needs to know of a shared library."""

    machine: str
    soname: str | None
    needed: tuple[str, ...]
    unstripped: bool
    """Carries a symbol table or debug sections, which ``strip --strip-unneeded`` drops."""


_SHT_SYMTAB, _SHT_DYNAMIC = 2, 6
_DT_NEEDED, _DT_SONAME = 1, 14


def read_elf(path: Path) -> Elf | None:
    """The library at ``path``; None when it is not an ELF file.

    Read without binutils so that a foreign architecture's libraries can be
    checked on any host. Lambda's architectures are both 64-bit little-endian.
    """
    with path.open("rb") as fh:
        ident = fh.read(64)
        if len(ident) < 64 or ident[:4] != b"\x7fELF":
            return None
        if ident[4] != 2 or ident[5] != 1:
            raise BuildError(f"{path}: not a 64-bit little-endian ELF file")
        (e_machine,) = struct.unpack_from("<H", ident, 18)
        (e_shoff,) = struct.unpack_from("<Q", ident, 40)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", ident, 58)

        def read(offset: int, size: int) -> bytes:
            fh.seek(offset)
            return fh.read(size)

        table = read(e_shoff, e_shentsize * e_shnum)
        sections = [
            struct.unpack_from("<IIQQQQIIQQ", table, i * e_shentsize) for i in range(e_shnum)
        ]
        names = read(sections[e_shstrndx][4], sections[e_shstrndx][5]) if sections else b""

        def name_of(index: int) -> str:
            return names[index : names.index(b"\0", index)].decode()

        unstripped = False
        soname: str | None = None
        needed: list[str] = []
        for sh_name, sh_type, _, _, sh_offset, sh_size, sh_link, *_ in sections:
            if sh_type == _SHT_SYMTAB or name_of(sh_name).startswith(".debug"):
                unstripped = True
            if sh_type != _SHT_DYNAMIC:
                continue
            strings = read(sections[sh_link][4], sections[sh_link][5])
            dynamic = read(sh_offset, sh_size)
            for tag, value in struct.iter_unpack("<qQ", dynamic[: len(dynamic) // 16 * 16]):
                if tag == 0:
                    break
                if tag in (_DT_NEEDED, _DT_SONAME):
                    text = strings[value : strings.index(b"\0", value)].decode()
                    if tag == _DT_NEEDED:
                        needed.append(text)
                    else:
                        soname = text
    machine = _ELF_MACHINES.get(e_machine, f"machine {e_machine}")
    return Elf(machine, soname, tuple(needed), unstripped)


def elf_files(root: Path) -> dict[Path, Elf]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and (elf := read_elf(path)) is not None:
            found[path] = elf
    return found


def missing_libraries(root: Path, shipped: Iterable[str]) -> list[str]:
    """Libraries that a library under ``root`` links against, shipped once and now gone."""
    present = {p.name for p in root.rglob("*") if p.is_file()}
    gone = set(shipped) - present
    return [
        f"{path.relative_to(root)} needs {name}, which was removed"
        for path, elf in elf_files(root).items()
        for name in elf.needed
        if name in gone
    ]


def duplicate_libraries(root: Path) -> list[Path]:
    """Copies of a library under a name nothing loads.

    Wheels cannot hold symlinks, so ``libx.so`` and ``libx.so.N.M`` arrive as
    full copies of ``libx.so.N``, the name (soname) that the dynamic linker
    looks for.
    """
    elves = elf_files(root)
    wanted = {name for elf in elves.values() for name in elf.needed}
    duplicates = []
    for path, elf in elves.items():
        if not elf.soname or elf.soname == path.name or path.name in wanted:
            continue
        original = path.with_name(elf.soname)
        if original.is_file() and filecmp.cmp(path, original, shallow=False):
            duplicates.append(path)
    return duplicates


def find_strip(machine: str) -> str | None:
    """A ``strip`` that can rewrite ``machine``'s ELF files, if the host has one."""
    candidates = [f"{machine}-linux-gnu-strip"]
    if platform.machine() == machine:
        candidates.append("strip")
    # LLVM's strip handles every architecture LLVM targets.
    candidates.append("llvm-strip")
    for name in candidates:
        if found := shutil.which(name):
            return found
    return None


def strip_libraries(root: Path, tool: str) -> tuple[int, int, int, list[str]]:
    """Strip every unstripped library; (count, bytes before, bytes after, failures).

    A library whose stripped copy fails or no longer names the same soname and
    dependencies is kept as it was.
    """
    count = before = after = 0
    failures = []
    for path, elf in elf_files(root).items():
        if not elf.unstripped:
            continue
        stripped = path.with_name(path.name + ".stripped")
        done = subprocess.run(  # noqa: S603 (a strip found on PATH, on files the build made)
            [tool, "--strip-unneeded", "-o", str(stripped), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or read_elf(stripped) != Elf(
            elf.machine, elf.soname, elf.needed, unstripped=False
        ):
            stripped.unlink(missing_ok=True)
            why = done.stderr.strip() or "the stripped copy lost its soname or dependencies"
            failures.append(f"{path.relative_to(root)}: {why}")
            continue
        count += 1
        before += path.stat().st_size
        after += stripped.stat().st_size
        os.replace(stripped, path)
    return count, before, after, failures


# --- Dependencies ------------------------------------------------------------


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise BuildError(f"cannot read a package name from {requirement!r}")
    return normalize(match.group(1))


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """loadstar's dependencies, less those the Lambda runtime provides."""
    with pyproject.open("rb") as fh:
        requirements: list[str] = tomllib.load(fh)["project"]["dependencies"]
    provided = set(PROVIDED_BY_RUNTIME)
    return [r for r in requirements if requirement_name(r) not in provided]


def platform_tags(glibc: tuple[int, int], machine: str) -> list[str]:
    """Every manylinux tag whose wheels run on ``glibc``.

    pip's ``--platform`` takes each tag literally: it does not widen
    ``manylinux_2_26`` to the older tags that also run there.
    """
    major, minor = glibc
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 4, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    return tags + [f"{name}_{machine}" for m, name in legacy.items() if m <= minor]


def install_dependencies(site: Path, python: str, machine: str) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        # Bytecode compiled here would be for the host's Python, not the runtime's.
        "--no-compile",
        "--target",
        str(site),
        "--implementation",
        "cp",
        "--python-version",
        python,
        "--abi",
        f"cp{python.replace('.', '')}",
        "--only-binary=:all:",
    ]
    for tag in platform_tags(RUNTIME_GLIBC[python], machine):
        command += ["--platform", tag]
    done = subprocess.run([*command, *runtime_requirements()], check=False)  # noqa: S603
    if done.returncode != 0:
        raise BuildError(f"pip could not install the dependencies for python{python} on {machine}")


def distributions(site: Path) -> dict[str, tuple[str, Path]]:
    """Installed distributions: normalized name -> (version, dist-info folder)."""
    found = {}
    for info in sorted(site.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        found[normalize(name)] = (version, info)
    return found


def remove_distribution(site: Path, info: Path) -> None:
    """Every file the distribution's RECORD lists, then folders left empty."""
    folders: set[Path] = set()
    with (info / "RECORD").open(newline="") as fh:
        for row in csv.reader(fh):
            if not row or row[0].startswith(".."):
                continue
            path = site / row[0]
            path.unlink(missing_ok=True)
            folders.update(path.parents)
    shutil.rmtree(info, ignore_errors=True)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        if (
            folder.is_relative_to(site)
            and folder != site
            and folder.is_dir()
            and not any(folder.iterdir())
        ):
            folder.rmdir()


LEFT_OUT_OF_THE_ZIP = ("dev",)
"""loadstar's own packages the Lambda never imports: the local stack, samples and demo."""


def copy_loadstar(site: Path) -> None:
    """The package from this tree, with its data files (the SQL), not its caches or dev/."""
    source = ROOT / "src" / "loadstar"

    def ignore(folder: str, names: list[str]) -> set[str]:
        ignored = set(shutil.ignore_patterns("__pycache__", "*.pyc")(folder, names))
        if Path(folder) == source:
            ignored.update(n for n in names if n in LEFT_OUT_OF_THE_ZIP)
        return ignored

    shutil.copytree(source, site / "loadstar", ignore=ignore)


def add_catalogue(site: Path, path: Path) -> None:
    """Check the catalogue as loadstar will read it, then ship it as ``loadstar.toml``."""
    from loadstar.config import load_settings
    from loadstar.errors import ConfigError

    try:
        load_settings(config_path=path, environ={})
    except ConfigError as exc:
        raise BuildError(f"the catalogue {path} would not load: {exc}") from None
    shutil.copyfile(path, site / "loadstar.toml")


# --- Trimming ----------------------------------------------------------------


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def apply_trims(site: Path) -> list[tuple[str, str, int]]:
    """Remove what `TRIMS` and `duplicate_libraries` name; (what, why, bytes) of each."""
    done = []
    for trim in TRIMS:
        matches = sorted({p for pattern in trim.patterns for p in site.glob(pattern)})
        size = 0
        for path in matches:
            if not path.exists():  # inside a folder removed just before
                continue
            size += size_of(path)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        done.append((trim.what, trim.why, size))
    duplicates = duplicate_libraries(site)
    size = sum(p.stat().st_size for p in duplicates)
    for path in duplicates:
        path.unlink()
    done.append(("duplicate library copies", "wheels hold copies where symlinks would be", size))
    return done


# --- The zip -----------------------------------------------------------------


def zip_time() -> tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return _ZIP_EPOCH
    moment = time.gmtime(max(int(epoch), 315532800))  # the zip format starts at 1980
    return (moment.tm_year, moment.tm_mon, moment.tm_mday, moment.tm_hour, moment.tm_min, 0)


def write_zip(site: Path, output: Path) -> int:
    """Zip ``site`` into ``output``: sorted entries, one timestamp, modes 0644 and 0755.

    Lambda runs the code as a user who does not own the files, so they must be
    readable by all. Returns the unzipped size.
    """
    when = zip_time()
    unzipped = 0
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        names = {
            p: p.relative_to(site).as_posix() + ("/" if p.is_dir() else "") for p in site.rglob("*")
        }
        for path, name in sorted(names.items(), key=lambda item: item[1]):
            info = zipfile.ZipInfo(name, when)
            info.create_system = 3  # unix, so that the mode bits below count
            if path.is_dir():
                info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                zf.writestr(info, b"")
                continue
            executable = read_elf(path) is not None
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            unzipped += len(data)
            zf.writestr(info, data)
    os.replace(partial, output)
    return unzipped


def size_problems(zipped: int, unzipped: int) -> list[str]:
    """How the sizes break Lambda's limits; empty when they do not."""
    problems = []
    if unzipped > UNZIPPED_LIMIT:
        problems.append(
            f"unzipped size {unzipped:,} bytes is over Lambda's limit of "
            f"{UNZIPPED_LIMIT:,} bytes by {unzipped - UNZIPPED_LIMIT:,} bytes"
        )
    if zipped > ZIPPED_LIMIT:
        problems.append(
            f"zipped size {zipped:,} bytes is over Lambda's limit of {ZIPPED_LIMIT:,} bytes "
            f"for a direct upload by {zipped - ZIPPED_LIMIT:,} bytes"
        )
    return problems


# --- The build ---------------------------------------------------------------


def mib(size: int) -> str:
    return f"{size / 1_048_576:.1f} MiB"


def fresh_folder(path: Path) -> None:
    """Empty ``path`` for a build, refusing to empty a folder no build made."""
    if path.exists() and any(path.iterdir()) and not (path / _MARKER).exists():
        raise BuildError(f"{path} is not empty and not a previous build's folder")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    (path / _MARKER).touch()


def build(
    python: str, arch: str, output: Path, work: Path, config: Path | None = None
) -> tuple[int, int]:
    """Build the zip at ``output`` in the folder ``work``; (zipped, unzipped) bytes."""
    started = time.monotonic()
    machine = ARCHITECTURES[arch]
    major, minor = RUNTIME_GLIBC[python]
    print(f"Lambda runtime python{python} on {arch}: manylinux wheels for glibc {major}.{minor}")
    fresh_folder(work)
    site = work / "site"

    install_dependencies(site, python, machine)
    installed = distributions(site)
    for name in PROVIDED_BY_RUNTIME:
        if name in installed:
            remove_distribution(site, installed.pop(name)[1])
    print("dependencies: " + ", ".join(f"{n} {v}" for n, (v, _) in installed.items()))
    print("left out, the runtime provides them: " + ", ".join(PROVIDED_BY_RUNTIME))
    copy_loadstar(site)

    shipped = {p.name for p in elf_files(site)}
    for what, why, size in apply_trims(site):
        print(f"trimmed {what}: {mib(size)} ({why})")
    if missing := missing_libraries(site, shipped):
        raise BuildError("trimming removed libraries still needed:\n  " + "\n  ".join(missing))

    tool = find_strip(machine)
    if tool is None:
        print(
            f"not stripped: no strip for {machine} on this {platform.machine()} host "
            f"(install binutils-{machine}-linux-gnu or llvm)"
        )
    else:
        count, before, after, failures = strip_libraries(site, tool)
        print(f"stripped {count} libraries with {tool}: {mib(before)} -> {mib(after)}")
        for failure in failures:
            print(f"  kept unstripped: {failure}")

    if config is not None:
        add_catalogue(site, config)
        print(f"catalogue: {config} as loadstar.toml (LOADSTAR_CONFIG=/var/task/loadstar.toml)")

    output.parent.mkdir(parents=True, exist_ok=True)
    unzipped = write_zip(site, output)
    zipped = output.stat().st_size
    print(f"zipped:   {zipped:>12,} bytes ({mib(zipped)}); limit {ZIPPED_LIMIT:,} (direct upload)")
    print(f"unzipped: {unzipped:>12,} bytes ({mib(unzipped)}); limit {UNZIPPED_LIMIT:,}")
    if problems := size_problems(zipped, unzipped):
        output.unlink()
        raise BuildError("; ".join(problems))
    print(f"wrote {output} in {time.monotonic() - started:.1f} s")
    return zipped, unzipped


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.package",
        description="Build loadstar's Lambda deployment zip.",
    )
    parser.add_argument("--python", default="3.11", help="Lambda's Python runtime (3.11)")
    parser.add_argument("--arch", default="x86_64", help="Lambda's architecture (x86_64)")
    parser.add_argument("--config", type=Path, help="TOML catalogue to ship as loadstar.toml")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the zip to write")
    parser.add_argument("--build-dir", type=Path, help="work folder (build/lambda-PYTHON-ARCH)")
    args = parser.parse_args(argv)
    if args.python not in RUNTIME_GLIBC:
        parser.error(
            f"python {args.python!r}: Lambda runtimes loadstar runs on are "
            + ", ".join(RUNTIME_GLIBC)
        )
    if args.arch not in ARCHITECTURES:
        parser.error(f"arch {args.arch!r}: Lambda's architectures are " + ", ".join(ARCHITECTURES))
    if args.config is not None and not args.config.is_file():
        parser.error(f"config {str(args.config)!r} is not a file")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    # Lines must not wait in a buffer while pip, a child, writes straight to the terminal.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    args = parse_args(argv)
    work = args.build_dir or ROOT / "build" / f"lambda-{args.python}-{args.arch}"
    try:
        build(args.python, args.arch, args.output, work, args.config)
    except BuildError as exc:
        print(f"package failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
