from __future__ import annotations

import csv
from pathlib import Path

import pytest
from mongomock_motor import AsyncMongoMockClient

from models.database import init_database
from models.store_master import (
    InvalidStoreMaster,
    decode_csv,
    load_store_master,
    parse_store_master,
)
from models.stores import Store


@pytest.fixture
async def database() -> None:
    await init_database(AsyncMongoMockClient(), "test")


def read_master(shared: Path, name: str) -> str:
    return decode_csv((shared / "data" / name).read_bytes())


def expected_rows(shared: Path, name: str) -> dict[str, tuple[str, str]]:
    with open(shared / "data" / name, newline="", encoding="utf-8") as f:
        return {
            row["StoreID"].strip(): (row["StoreName"].strip(), row["AreaCode"].strip())
            for row in csv.DictReader(f)
        }


async def test_real_store_master_loads_every_store_exactly(
    database: None, shared: Path
) -> None:
    report = await load_store_master(read_master(shared, "StoreMasterAssignment.csv"))

    stores = {s.id: (s.name, s.area_code) for s in await Store.find().to_list()}
    assert (report.rows, report.loaded, report.duplicates) == (4944, 4944, 0)
    assert report.skipped == {}
    assert stores == expected_rows(shared, "StoreMasterAssignment.csv")
    assert sum("," in name for name, _ in stores.values()) == 345
    assert sum("CAFÃ‰" in name for name, _ in stores.values()) == 4
    assert stores["RP03738"] == ("KHIBAR CAFÃ‰", "7100015")
    assert sum("  " in name for name, _ in stores.values()) == 100
    assert stores["RP00004"] == ("BHARAT STORE", "7100015")


async def test_second_load_changes_nothing(database: None, shared: Path) -> None:
    text = read_master(shared, "StoreMasterAssignment.csv")
    await load_store_master(text)

    again = await load_store_master(text)

    assert (again.loaded, again.updated, again.unchanged) == (0, 0, 4944)
    assert await Store.count() == 4944


async def test_legacy_export_is_trimmed_and_kept(database: None, shared: Path) -> None:
    report = await load_store_master(
        read_master(shared, "StoreMasterAssignment_legacy_2020.csv")
    )

    names = [s.name for s in await Store.find().to_list()]
    assert report.loaded == 4944
    assert not [n for n in names if n != n.strip()]
    assert await Store.get("S00339218") is not None
    assert await Store.get("S01408764") is not None


async def test_untidy_csv_keeps_every_store_row(database: None) -> None:
    text = (
        "\ufeff StoreID , AreaCode,StoreName\r\n"
        "\r\n"
        "A1, 10 ,  First   Store  \r\n"
        "A2,20\r\n"
        ",30,No Id\r\n"
        'A3,30,"Comma, Store"\r\n'
        "\r\n"
        "A1,11,First Store Renamed\r\n"
        "   \r\n"
    )

    report = await load_store_master(text)

    stores = {s.id: (s.name, s.area_code) for s in await Store.find().to_list()}
    assert stores == {
        "A1": ("First Store Renamed", "11"),
        "A3": ("Comma, Store", "30"),
    }
    assert report.rows == 5
    assert report.duplicates == 1
    assert report.skipped == {"missing a column": 1, "without a StoreID": 1}
    assert "rows skipped 2" in report.summary()


async def test_reload_updates_changed_names(database: None) -> None:
    await load_store_master("AreaCode,StoreName,StoreID\n1,Old,B1\n1,Same,B2\n")

    report = await load_store_master(
        "AreaCode,StoreName,StoreID\n1,New,B1\n1,Same,B2\n"
    )

    assert (report.loaded, report.updated, report.unchanged) == (0, 1, 1)
    assert (await Store.get("B1")).name == "New"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("a,b,c\n1,2,3\n", "missing AreaCode, StoreName, StoreID"),
        ("AreaCode,StoreName\n1,x\n", "missing StoreID"),
    ],
    ids=["empty", "wrong header", "missing column"],
)
def test_unusable_header_is_rejected(text: str, words: str) -> None:
    with pytest.raises(InvalidStoreMaster, match=words):
        parse_store_master(text)


def test_latin1_bytes_are_kept_byte_for_byte() -> None:
    assert decode_csv(b"AreaCode,StoreName,StoreID\n1,CAF\xc9,X\n").endswith("CAFÉ,X\n")
