"""`loadstar report --html`: the page a real ledger makes, as headless Chromium renders it."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from mypy_boto3_s3 import S3Client

from loadstar.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main
from loadstar.config import default_catalogue, load_settings
from loadstar.dev.sample import FACT_PREFIX, dimension_files, fact_files, stamp
from loadstar.ops.freshness import write_html_report
from support import Conn, ledger, put_files

pytestmark = pytest.mark.usefixtures("env")

TABLES = [spec.name for spec in default_catalogue()]
WIDTH, HEIGHT = 1280, 2000
SCREENSHOT_COPY = Path("/tmp/loadstar-report.png")  # noqa: S108 - a fixed place, to be found
"""Where the screenshot is kept after the test, to look at."""

NOT_PARQUET = b"PAR1 this is not a parquet file"
HOSTILE_KEY = f"{FACT_PREFIX}-2024-05-25 10:00:00.000000<script>alert(1)</script>.parquet"
SKIP_REASON = 'reissued upstream <img src=x onerror="alert(2)"> & fixed'
TOOLTIP = re.compile(r"\d{4}-\d\d-\d\d \d\d:00Z: [\d,]+ files?, [\d,]+ rows?")


# -- a bucket with loaded, failed and skipped files -----------------------------------------


@dataclass(frozen=True)
class Loaded:
    failed: str
    skipped: str
    hostile: str


@pytest.fixture
def loaded(s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]) -> Loaded:
    """Every dimension and three fact files loaded; two fact files failed, one skipped."""
    put_files(s3, bucket, [*dimension_files(), *fact_files(3, 20)])
    failed = f"{FACT_PREFIX}-{stamp(datetime(2024, 5, 26, 9))}.parquet"
    skipped = f"{FACT_PREFIX}-{stamp(datetime(2024, 5, 26, 10))}.parquet"
    for key in (failed, skipped, HOSTILE_KEY):
        s3.put_object(Bucket=bucket, Key=key, Body=NOT_PARQUET)
    assert main(["run"]) == EXIT_FAILED
    assert main(["skip", skipped, "--reason", SKIP_REASON]) == EXIT_OK
    capsys.readouterr()
    return Loaded(failed=failed, skipped=skipped, hostile=HOSTILE_KEY)


def report(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> Path:
    page = tmp_path / "freshness.html"
    assert main(["report", "--html", str(page), *argv]) == EXIT_OK
    capsys.readouterr()
    return page


# -- reading the page -------------------------------------------------------------------------

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def every(self, tag: str | None = None, cls: str | None = None) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, str):
                continue
            if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                yield child
            yield from child.every(tag, cls)

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        return list(self.every(tag, cls))

    def one(self, tag: str | None = None, cls: str | None = None) -> Node:
        [found] = self.all(tag, cls)
        return found

    def by_id(self, id_: str) -> Node:
        [found] = [node for node in self.every() if node.attrs.get("id") == id_]
        return found

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.open[-1].children.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


def dom(text: str) -> Node:
    builder = _Builder()
    builder.feed(text)
    builder.close()
    return builder.root


def iso(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


# -- Chromium ---------------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium(page: Path, profile: Path, *options: str) -> str:
    """Run headless Chromium on the page; what it prints."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail(
            "chromium is not on PATH: the HTML report is checked in a real browser; "
            "`make browser` (tests/ensure-chromium) installs Debian's",
            pytrace=False,
        )
    done = subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *options, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rendered_dom(page: Path, tmp_path: Path) -> Node:
    """The DOM as Chromium built it from the page."""
    return dom(chromium(page, tmp_path / "profile", "--dump-dom"))


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    pixels: bytes
    """The decompressed image data: each row's filter byte, then its pixels."""


def read_png(path: Path) -> Png:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, header, idat = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height = struct.unpack(">II", header[:8])
    return Png(width, height, zlib.decompress(idat))


# -- the command ------------------------------------------------------------------------------


def test_the_report_command_writes_the_page_and_returns_each_tables_numbers(
    loaded: Loaded, db: Conn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "freshness.html"
    assert main(["report", "--html", str(page), "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert page.is_file()
    assert data["path"] == str(page)
    assert data["days"] == 7
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["generated_at"])
    assert [t["name"] for t in data["tables"]] == TABLES

    rows = ledger(db).values()
    for table in data["tables"]:
        own = [r for r in rows if r["table_name"] == table["name"]]
        done = [r for r in own if r["status"] == "loaded"]
        last = max(done, key=lambda r: r["loaded_at"])
        assert table["files_loaded"] == len(done)
        assert table["rows_written"] == sum(r["rows_written"] for r in done)
        assert table["last_loaded_key"] == last["key"]
        assert table["last_loaded_at"] == iso(last["loaded_at"])
        lag = (last["loaded_at"] - last["file_instant"]).total_seconds()
        assert table["lag_seconds"] == pytest.approx(lag)
        assert table["failed"] == sum(r["status"] == "failed" for r in own)
        assert table["skipped"] == sum(r["status"] == "skipped" for r in own)
    fact = data["tables"][TABLES.index("fact_sales_order")]
    assert (fact["files_loaded"], fact["failed"], fact["skipped"]) == (3, 2, 1)


def test_the_page_renders_every_table_its_hourly_bars_and_the_files_that_did_not_load(
    loaded: Loaded, db: Conn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = rendered_dom(report(tmp_path, capsys), tmp_path)
    rows = ledger(db)

    hours = {
        table: len(
            {
                r["loaded_at"].astimezone(UTC).replace(minute=0, second=0, microsecond=0)
                for r in rows.values()
                if r["table_name"] == table and r["status"] == "loaded"
            }
        )
        for table in TABLES
    }
    for table in TABLES:
        section = document.by_id(f"table-{table}")
        assert section.one("h2").text().startswith(table)
        bars = section.one("svg", "chart").all("rect")
        assert len(bars) == hours[table] >= 1, table
        tips = [bar.one("title").text() for bar in bars]
        assert all(TOOLTIP.fullmatch(tip) for tip in tips), tips
        loaded_files = sum(int(tip.split(": ")[1].split()[0].replace(",", "")) for tip in tips)
        assert loaded_files == sum(
            r["status"] == "loaded" and r["table_name"] == table for r in rows.values()
        )

    problems = document.by_id("problems")
    by_key = {row.one("code").text(): row for row in problems.one("tbody").all("tr")}
    assert set(by_key) == {loaded.failed, loaded.skipped, loaded.hostile}
    failed = by_key[loaded.failed]
    assert failed.one("td", "reason").text() == rows[loaded.failed]["reason"]
    assert loaded.failed in rows[loaded.failed]["reason"]  # the reason names its file
    assert failed.one("span", "badge").text() == "failed"
    assert "1 attempt" in failed.text()
    skipped = by_key[loaded.skipped]
    assert skipped.one("span", "badge").text() == "skipped"
    assert skipped.one("td", "reason").text() == rows[loaded.skipped]["reason"]
    assert SKIP_REASON in rows[loaded.skipped]["reason"]

    [run] = document.by_id("runs").one("tbody").all("tr")
    cells = [cell.text() for cell in run.all("td")]
    [run_id] = {r["run_id"] for r in rows.values() if r["status"] == "loaded"}
    assert cells[0] == run_id
    # When the run changed its files: the skip that came after it is not the run's.
    changed = [r["loaded_at"] or r["updated_at"] for r in rows.values() if r["status"] != "skipped"]
    assert cells[1:3] == [iso(min(changed)), iso(max(changed))]
    loaded_rows = [r for r in rows.values() if r["status"] == "loaded"]
    assert cells[3:] == [
        f"{len(loaded_rows):,}",
        "2",
        f"{sum(r['rows_written'] for r in loaded_rows):,}",
    ]


def test_the_screenshot_has_the_requested_size_and_is_not_blank(
    loaded: Loaded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = report(tmp_path, capsys)
    shot = tmp_path / "freshness.png"
    chromium(page, tmp_path / "profile", f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}")
    assert shot.is_file()
    shutil.copyfile(shot, SCREENSHOT_COPY)
    with capsys.disabled():
        print(f"\nscreenshot of the report: {SCREENSHOT_COPY}")
    image = read_png(shot)
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    # A blank page is a few byte values (its rows' filters over one colour); text,
    # anti-aliased edges and coloured bars make far more.
    assert len(set(image.pixels)) > 64


def test_a_hostile_key_and_reason_are_shown_as_text_and_nothing_runs(
    loaded: Loaded, db: Conn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = report(tmp_path, capsys)
    written = page.read_text()
    assert "<script" not in written.lower()
    assert "<img" not in written.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in written

    document = rendered_dom(page, tmp_path)
    assert document.all("script") == []
    assert document.all("img") == []
    keys = [code.text() for code in document.all("code", "key")]
    assert HOSTILE_KEY in keys
    reasons = [cell.text() for cell in document.all("td", "reason")]
    assert ledger(db)[HOSTILE_KEY]["reason"] in reasons
    assert any(SKIP_REASON in reason for reason in reasons)


def test_the_page_fetches_nothing(
    loaded: Loaded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = report(tmp_path, capsys)
    document = dom(page.read_text())
    linked = [
        f"<{node.tag} {name}={value!r}>"
        for node in document.every()
        for name, value in node.attrs.items()
        if name in {"src", "href", "xlink:href", "srcset", "action", "poster", "data"}
        and value is not None
        and re.match(r"\s*(https?:)?//", value, flags=re.IGNORECASE)
    ]
    assert linked == []
    fetching = {"script", "link", "img", "iframe", "object", "embed", "image", "use", "video"}
    assert [node.tag for node in document.every() if node.tag in fetching] == []
    style = document.one("style").text()
    assert "url(" not in style
    assert "@import" not in style
    [policy] = [
        node.attrs["content"]
        for node in document.all("meta")
        if node.attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert policy is not None
    assert "default-src 'none'" in policy
    assert not re.search(r"https?://", page.read_text())


# -- the numbers ------------------------------------------------------------------------------


def test_the_charts_have_one_bar_per_hour_that_loaded_within_the_window(
    s3: S3Client, bucket: str, db: Conn, tmp_path: Path
) -> None:
    dims, facts = dimension_files(), fact_files(3, 20)
    put_files(s3, bucket, [*dims, *facts])
    assert main(["run"]) == EXIT_OK
    now = datetime(2030, 1, 2, 12, 30, tzinfo=UTC)
    when = {
        **{d.key: now - timedelta(hours=3, minutes=20) for d in dims},
        facts[0].key: now - timedelta(hours=30),
        facts[1].key: now - timedelta(hours=29, minutes=50),
        facts[2].key: now - timedelta(days=8),  # before the window
    }
    for key, moment in when.items():
        db.execute("UPDATE loadstar.load_ledger SET loaded_at = %s WHERE key = %s", (moment, key))
    rows = ledger(db)
    settings = load_settings()
    page = tmp_path / "week.html"

    data = write_html_report(settings, page, days=7, now=now)
    document = dom(page.read_text())
    for dim in dims:
        [bar] = document.by_id(f"table-{dim.table}").all("rect")
        written = rows[dim.key]["rows_written"]
        assert bar.one("title").text() == f"2030-01-02 09:00Z: 1 file, {written:,} rows"
    bars = document.by_id("table-fact_sales_order").all("rect")
    written = rows[facts[0].key]["rows_written"] + rows[facts[1].key]["rows_written"]
    assert [bar.one("title").text() for bar in bars] == [
        f"2030-01-01 06:00Z: 2 files, {written:,} rows"
    ]
    fact = data["tables"][TABLES.index("fact_sales_order")]
    assert fact["last_loaded_key"] == facts[1].key
    assert fact["last_loaded_at"] == "2030-01-01T06:40:00Z"
    instant = rows[facts[1].key]["file_instant"]
    assert fact["lag_seconds"] == (when[facts[1].key] - instant).total_seconds()
    assert fact["files_loaded"] == 3  # the totals are the whole ledger's, not the window's
    assert data["generated_at"] == "2030-01-02T12:30:00Z"

    data = write_html_report(settings, page, days=1, now=now)
    document = dom(page.read_text())
    assert document.by_id("table-fact_sales_order").all("rect") == []
    assert "no file loaded in the last day" in document.by_id("table-fact_sales_order").text()
    assert all(len(document.by_id(f"table-{d.table}").all("rect")) == 1 for d in dims)
    assert data["days"] == 1


def test_a_table_with_no_file_yet_is_listed_with_nothing_loaded(
    s3: S3Client, bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, dimension_files())
    assert main(["run"]) == EXIT_OK
    capsys.readouterr()
    page = tmp_path / "freshness.html"
    assert main(["report", "--html", str(page), "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    fact = data["tables"][TABLES.index("fact_sales_order")]
    assert fact == {
        "name": "fact_sales_order",
        "files_loaded": 0,
        "rows_written": 0,
        "last_loaded_key": None,
        "last_loaded_at": None,
        "lag_seconds": None,
        "failed": 0,
        "skipped": 0,
    }
    section = dom(page.read_text()).by_id("table-fact_sales_order")
    assert "no file loaded yet" in section.text()
    assert "0 files, 0 rows written" in section.text()
    assert section.all("rect") == []


def test_before_any_run_every_table_is_listed_and_no_run(
    db: Conn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = report(tmp_path, capsys)
    document = dom(page.read_text())
    assert [s.attrs["id"] for s in document.all("section", "table")] == [
        f"table-{t}" for t in TABLES
    ]
    assert "No run has recorded a file yet." in document.by_id("runs").text()
    assert "None." in document.by_id("problems").text()
    # Read-only: the report creates no ledger.
    found = db.execute("SELECT to_regclass('loadstar.load_ledger')").fetchone()
    assert found == (None,)


def test_counts_read_with_thousands_separators_and_plurals(
    s3: S3Client, bucket: str, db: Conn, tmp_path: Path
) -> None:
    dims = dimension_files()
    put_files(s3, bucket, dims)
    assert main(["run"]) == EXIT_OK
    date = next(d for d in dims if d.table == "dim_date")
    assert ledger(db)[date.key]["rows_written"] == 731
    db.execute(
        "UPDATE loadstar.load_ledger SET rows_written = 1234567 WHERE key = %s",
        (date.key,),
    )
    page = tmp_path / "freshness.html"
    write_html_report(load_settings(), page)
    section = dom(page.read_text()).by_id("table-dim_date")
    assert "1 file, 1,234,567 rows written" in section.text()
    [bar] = section.all("rect")
    assert bar.one("title").text().endswith(": 1 file, 1,234,567 rows")
    assert "0 failed files, 0 skipped files" in section.text()


def test_a_page_that_cannot_be_written_is_an_error_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "missing" / "freshness.html"
    assert main(["report", "--html", str(page)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"cannot write the report to {page}" in err
