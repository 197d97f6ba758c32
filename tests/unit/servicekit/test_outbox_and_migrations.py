"""Outbox header encoding and migration discovery, without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from servicekit.outbox import decode_headers, encode_headers
from servicekit.postgres import SERVICEKIT_MIGRATIONS, discover, parse_migration_name


def test_headers_survive_the_json_column_byte_for_byte_and_in_order() -> None:
    headers = [("b", b"\x00\xff binary"), ("a", b""), ("b", b"again")]
    assert decode_headers(encode_headers(headers)) == headers


def test_no_stored_headers_means_no_headers() -> None:
    assert decode_headers(None) == []
    assert decode_headers(encode_headers([])) == []


def test_a_migration_name_gives_its_version_and_description() -> None:
    assert parse_migration_name("0007_add_claim_index.sql") == ("0007", "add_claim_index")


@pytest.mark.parametrize(
    "name", ["7_short.sql", "0001-dash.sql", "0001_Upper.sql", "0001_no_suffix.txt", "0001_.sql"]
)
def test_a_migration_named_otherwise_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="NNNN_description"):
        parse_migration_name(name)


def test_migrations_are_found_in_version_order_under_their_package_name(tmp_path: Path) -> None:
    folder = tmp_path / "adjudication" / "migrations"
    folder.mkdir(parents=True)
    for name in ("0010_late.sql", "0002_second.sql", "0001_first.sql"):
        (folder / name).write_text("SELECT 1;")
    found = discover(folder)
    assert [m.name for m in found] == [
        "adjudication:0001_first",
        "adjudication:0002_second",
        "adjudication:0010_late",
    ]


def test_two_migrations_with_one_number_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "metrics" / "migrations"
    folder.mkdir(parents=True)
    (folder / "0001_a.sql").write_text("SELECT 1;")
    (folder / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="two migrations numbered 0001"):
        discover(folder)


def test_servicekit_ships_the_inbox_and_outbox_migration() -> None:
    assert [m.name for m in discover(SERVICEKIT_MIGRATIONS)] == [
        "servicekit:0001_inbox_outbox",
        "servicekit:0002_inbox_retention",
        "servicekit:0003_outbox_lanes",
    ]
