"""Calibration data validated at load (issue 16): each corruption of the issue, planted in
a temporary copy of the data (`WOONSIM_CALIBRATION_DATA`), gives one line naming the file,
the row and the column; a deleted row is blamed on the data file, not on the scenario."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from woonsim import DataError, load_scenario
from woonsim.data import DATA_ENV, clear_cache, municipalities, region, taakstelling

MUNI = "municipalities_2025.csv"
TINY = REPO / "tests" / "data" / "tiny_region.yaml"  # Midden-Delfland and Wassenaar


@pytest.fixture
def data(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the data folder that woonsim reads instead of the shipped one."""
    dst = tmp_path / "data"
    shutil.copytree(REPO / "calibration_data", dst, ignore=shutil.ignore_patterns("raw", "*.py"))
    monkeypatch.setenv(DATA_ENV, str(dst))
    clear_cache()
    yield dst
    monkeypatch.delenv(DATA_ENV)
    clear_cache()


def rows(data: Path) -> tuple[list[str], list[list[str]]]:
    table = list(csv.reader(io.StringIO((data / MUNI).read_text(encoding="utf-8"))))
    return table[0], table[1:]


def write(data: Path, head: list[str], body: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([head, *body])
    (data / MUNI).write_text(out.getvalue(), encoding="utf-8")
    clear_cache()


def set_cell(data: Path, code: str, column: str, value: str) -> int:
    """Set one cell; returns the row's number (1 = the first data row)."""
    head, body = rows(data)
    i = next(k for k, r in enumerate(body) if r[0] == code)
    body[i][head.index(column)] = value
    write(data, head, body)
    return i + 1


def refused(data: Path, pattern: str) -> str:
    with pytest.raises(DataError) as err:
        municipalities()
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(data / MUNI)), msg
    assert pattern in msg, msg
    return msg


def test_the_copy_is_valid(data):
    assert len(municipalities()) == 342
    assert load_scenario(TINY).municipalities == ["GM1842", "GM0629"]


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("population_2024", "-5", "must be positive, got -5"),
        ("corporation_2025", "-1", "must be at least 0, got -1"),
        ("dwellings_2025", "nan", "not a finite number: 'nan'"),
        ("households_2024", "many", "not a number: 'many'"),
        ("dwellings_2025", "12.5", "not a whole number: '12.5'"),
        ("population_2024", "1e12", "1e12 is more than any municipality has (5,000,000)"),
        ("code", "Den Haag", "expected a CBS code GMxxxx, got 'Den Haag'"),
    ],
)
def test_a_bad_cell_names_the_file_row_and_column(data, column, value, problem):
    row = set_cell(data, "GM0518", column, value)
    code = value if column == "code" else "GM0518"
    refused(data, f" row {row} (line {row + 1}; {code}), column '{column}': {problem}")


def test_corporation_stock_above_all_dwellings(data):
    """Was a social share of 963%, silently."""
    row = set_cell(data, "GM0518", "corporation_2025", "9999999")
    refused(data, "is more than any municipality has")
    set_cell(data, "GM0518", "corporation_2025", "1000000")
    msg = refused(data, f" row {row} (line {row + 1}; GM0518), column 'corporation_2025': ")
    assert "exceed all" in msg


def test_a_changed_count_is_caught_by_the_national_sums(data):
    head, body = rows(data)
    i = next(k for k, r in enumerate(body) if r[0] == "GM0518")
    body[i][head.index("population_2024")] = str(int(body[i][head.index("population_2024")]) + 1)
    write(data, head, body)
    refused(data, "column 'population_2024': the rows add up to 17,942,943, not to the national")


def test_a_duplicated_row(data):
    """Counted Den Haag twice, silently."""
    head, body = rows(data)
    i = next(k for k, r in enumerate(body) if r[0] == "GM0518")
    write(data, head, [*body[: i + 1], body[i], *body[i + 1 :]])
    refused(data, f"row {i + 2} (line {i + 3}; GM0518), column 'code': GM0518 also on row {i + 1}")


def test_a_deleted_row_is_blamed_on_the_data_not_the_scenario(data):
    head, body = rows(data)
    write(data, head, [r for r in body if r[0] != "GM0629"])  # Wassenaar, in the scenario
    with pytest.raises(DataError, match="341 municipalities, but the 2025 division has 342"):
        load_scenario(TINY)


def test_a_renamed_column(data):
    text = (data / MUNI).read_text(encoding="utf-8").replace("dwellings_2025", "woningen", 1)
    (data / MUNI).write_text(text, encoding="utf-8")
    refused(data, "missing column(s) 'dwellings_2025'")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00junk", "not a UTF-8 text file"),
        (b"\x00\x01\x02", "binary data, not a CSV table"),
        (b"code,name\nGM0014,Groningen\n", "missing column(s)"),
    ],
)
def test_empty_binary_and_foreign_files(data, content, problem):
    (data / MUNI).write_bytes(content)
    clear_cache()
    refused(data, problem)


def test_a_truncated_file(data):
    raw = (data / MUNI).read_bytes()
    (data / MUNI).write_bytes(raw[: len(raw) // 2])
    clear_cache()
    with pytest.raises(DataError, match=r"municipalities_2025\.csv"):
        region(["GM1842"])


def test_the_taakstelling_table(data):
    path = data / "taakstelling_statushouders.csv"
    path.write_text(path.read_text().replace(",13000,", ",-13000,", 1))
    with pytest.raises(DataError, match=r"row 1 \(line 2\), column 'national_task_persons'"):
        taakstelling()


def test_the_command_line_names_the_data_file(data, tmp_path):
    """Through `woonsim run`: exit 2, one line naming the file, row and column, nothing
    written."""
    row = set_cell(data, "GM1842", "households_2024", "oops")
    woonsim = Path(sys.executable).with_name("woonsim")
    p = subprocess.run(
        [str(woonsim), "run", str(TINY), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, DATA_ENV: str(data)},
    )
    assert p.returncode == 2
    assert p.stderr.splitlines() == [
        f"woonsim: error: {data / MUNI} row {row} (line {row + 1}; GM1842), column "
        "'households_2024': not a number: 'oops'"
    ], p.stderr
    assert not (tmp_path / "out").exists()
