"""The documentation says what the code does: its examples load, its commands parse,
the README fits on a few screens, and the site builds with every link checked."""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from loadstar.cli.parser import build_parser
from loadstar.config import load_settings
from loadstar.config.catalogue import _TABLE_FIELDS
from loadstar.config.settings import _SCHEMA

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
CLI_PAGE = DOCS / "operating" / "cli.md"
MAX_README_LINES = 160
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$")
_TABLE_HEADER = re.compile(r"^\[tables\.([A-Za-z0-9_]+)\]", re.MULTILINE)
# `eval "$(loadstar local up)"`: a command inside a command substitution.
_SUBSTITUTED = re.compile(r"\$\((loadstar [^)]*)\)")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    path: Path
    line: int
    """The line of the opening fence, counting from 1."""
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclass(frozen=True)
class Command:
    """One `loadstar …` line of a shell block: where it is, and its arguments."""

    path: Path
    line: int
    argv: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def fenced_blocks(path: Path) -> Iterator[Block]:
    """Every fenced block, with the indentation of a block inside a list item removed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        info = opening["info"].split()
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            closing = lines[end].strip()
            if closing.startswith(fence) and not closing.strip(fence[0]):
                break
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end])
            end += 1
        yield Block(path, index + 1, info[0].lower() if info else "", "\n".join(body))
        index = end + 1


def all_blocks() -> list[Block]:
    return [block for path in pages() for block in fenced_blocks(path)]


def shell_lines(block: Block) -> Iterator[tuple[int, str]]:
    """The block's lines, with backslash continuations joined, and each one's line number."""
    pending, start = "", 0
    for offset, raw in enumerate(block.text.splitlines(), start=block.line + 1):
        if not pending:
            start = offset
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        yield start, pending + raw
        pending = ""
    if pending:
        yield start, pending


def commands_in(block: Block) -> Iterator[Command]:
    for number, line in shell_lines(block):
        text = line.strip().removeprefix("$ ")
        found = [text] if text.startswith("loadstar ") else _SUBSTITUTED.findall(text)
        for command in found:
            words = shlex.shlex(command, posix=True, punctuation_chars=";&|<>")
            words.whitespace_split = True
            words.commenters = "#"
            argv = list(itertools.takewhile(lambda w: w.strip(";&|<>"), words))[1:]
            yield Command(block.path, number, tuple(argv))


BLOCKS = all_blocks()
CATALOGUES = [b for b in BLOCKS if b.language == "toml" and "[tables." in b.text]
COMMANDS = [c for b in BLOCKS if b.language in SHELL_LANGUAGES for c in commands_in(b)]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {
        name: sub
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items()
    }


# -- (a) catalogue examples -------------------------------------------------------------------


@pytest.mark.parametrize("block", CATALOGUES, ids=lambda b: b.where)
def test_every_catalogue_example_loads_through_the_catalogue_loader(
    block: Block, tmp_path: Path
) -> None:
    path = tmp_path / "loadstar.toml"
    path.write_text(block.text, encoding="utf-8")
    settings = load_settings(
        config_path=path, bucket="b", database_url="postgresql://x", environ={}
    )
    assert [t.name for t in settings.tables] == _TABLE_HEADER.findall(block.text), block.where


def test_the_readme_and_the_configuration_page_hold_catalogue_examples() -> None:
    assert any(b.path == README for b in CATALOGUES), "README.md has no [tables.…] example"
    on_the_page = [b for b in CATALOGUES if b.path == CONFIGURATION]
    assert len(on_the_page) >= 2, "configuration.md lost its catalogue examples"
    assert any("ignore = [" in b.text for b in on_the_page), "no example of `ignore`"


# -- (b) command lines ------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"{c.where} {shlex.join(c.argv)}")
def test_every_documented_command_line_parses(
    command: Command, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        args = build_parser().parse_args(list(command.argv))
    except SystemExit:
        error = capsys.readouterr().err.strip()
        pytest.fail(f"{command.where}: `loadstar {shlex.join(command.argv)}`: {error}")
    assert callable(args.func), command.where


def test_the_command_line_page_has_a_checked_example_of_every_command() -> None:
    parser = build_parser()
    wanted: set[tuple[str, ...]] = set()
    for name, sub in subcommands(parser).items():
        actions = subcommands(sub)
        wanted |= {(name, action) for action in actions} if actions else {(name,)}
    shown = {c.argv[: len(w)] for c in COMMANDS if c.path == CLI_PAGE for w in wanted}
    assert wanted - shown == set(), "docs/operating/cli.md has no example of these"


# -- (c) the README ---------------------------------------------------------------------------


def test_the_readme_fits_in_a_few_screens() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


def test_the_readmes_first_screen_goes_from_a_clone_to_a_loaded_local_stack() -> None:
    first_screen = README.read_text(encoding="utf-8").splitlines()[:30]
    steps = [
        "git clone",
        "make demo",
        "make install",
        "loadstar local up --sample",
        "loadstar run",
        "loadstar status",
        "loadstar local down",
    ]
    found = {step: [i for i, line in enumerate(first_screen) if step in line] for step in steps}
    assert [step for step in steps if not found[step]] == [], "missing from the first screen"
    firsts = [found[step][0] for step in steps]
    assert firsts == sorted(firsts), "the first screen's steps are out of order"


def test_the_configuration_page_names_every_setting_the_code_reads() -> None:
    page = CONFIGURATION.read_text(encoding="utf-8")
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py"))
    variables = set(re.findall(r"\"(LOADSTAR_[A-Z_]+)\"", source))
    assert "LOADSTAR_BUCKET" in variables
    assert sorted(v for v in variables if f"`{v}`" not in page) == []
    toml_keys = [f"`[{section}] {key}`" for section, keys in _SCHEMA.items() for key in keys]
    assert [key for key in toml_keys if key not in page] == []
    assert sorted(f for f in _TABLE_FIELDS if f"| `{f}` |" not in page) == []


# -- (d) the site -----------------------------------------------------------------------------


def test_the_docs_site_builds_strict_with_every_link_checked(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    for page in ("index.html", "configuration/index.html", "operating/cli/index.html"):
        assert (site / page).is_file(), page
