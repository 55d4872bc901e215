"""Reading a store master CSV (``AreaCode,StoreName,StoreID``) and upserting it.

Real exports are untidy: CRLF or LF endings, a byte-order mark, quoted names
with commas, blank lines, short rows, surrounding spaces. Every row that
names a store id is kept; fields are trimmed of surrounding whitespace and
otherwise kept exactly, mis-encoded characters included. A later row with
the same StoreID replaces an earlier one.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from dataclasses import dataclass, field

from models.stores import Store

logger = logging.getLogger(__name__)

COLUMNS = ("AreaCode", "StoreName", "StoreID")


class InvalidStoreMaster(ValueError):
    """The file cannot be read as a store master at all."""


@dataclass
class ParsedStores:
    stores: dict[str, Store] = field(default_factory=dict)
    rows: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class LoadReport:
    rows: int
    loaded: int
    updated: int
    unchanged: int
    duplicates: int
    skipped: dict[str, int]

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return (
            f"rows read {self.rows}, stores loaded {self.loaded}, "
            f"updated {self.updated}, unchanged {self.unchanged}, "
            f"duplicate ids {self.duplicates}, "
            f"rows skipped {self.skipped_total}" + (f" ({reasons})" if reasons else "")
        )


def decode_csv(data: bytes) -> str:
    """Text of a CSV file: UTF-8 (BOM or not), else Latin-1 byte for byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_store_master(text: str) -> ParsedStores:
    """Parse CSV text; raise :class:`InvalidStoreMaster` without a usable header."""
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    columns = _read_header(rows)
    parsed = ParsedStores()
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        parsed.rows += 1
        _add_row(parsed, row, columns)
    return parsed


def _read_header(rows: csv.Reader) -> dict[str, int]:  # type: ignore[name-defined]
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        names = {cell.strip().lower(): i for i, cell in enumerate(row)}
        missing = [c for c in COLUMNS if c.lower() not in names]
        if missing:
            raise InvalidStoreMaster(
                f"the header must name {', '.join(COLUMNS)}; "
                f"missing {', '.join(missing)}"
            )
        return {c: names[c.lower()] for c in COLUMNS}
    raise InvalidStoreMaster("the file is empty: no header row")


def _add_row(parsed: ParsedStores, row: list[str], columns: dict[str, int]) -> None:
    if len(row) <= max(columns.values()):
        parsed.skipped["missing a column"] += 1
        return
    store_id = row[columns["StoreID"]].strip()
    if not store_id:
        parsed.skipped["without a StoreID"] += 1
        return
    if store_id in parsed.stores:
        parsed.duplicates += 1
    parsed.stores[store_id] = Store(
        id=store_id,
        name=row[columns["StoreName"]].strip(),
        area_code=row[columns["AreaCode"]].strip(),
    )


async def load_store_master(text: str) -> LoadReport:
    """Upsert every store in ``text``; a second identical load changes nothing."""
    parsed = parse_store_master(text)
    existing = await _existing()
    changed = [
        store
        for store in parsed.stores.values()
        if existing.get(store.id) != (store.name, store.area_code)
    ]
    await _upsert(changed, existing)
    updated = sum(1 for store in changed if store.id in existing)
    report = LoadReport(
        rows=parsed.rows,
        loaded=len(changed) - updated,
        updated=updated,
        unchanged=len(parsed.stores) - len(changed),
        duplicates=parsed.duplicates,
        skipped=dict(parsed.skipped),
    )
    logger.info("store master loaded: %s", report.summary())
    return report


async def _upsert(stores: list[Store], existing: dict[str, tuple[str, str]]) -> None:
    # New stores go in one insert_many; changed ones one by one. mongomock
    # (the embedded database) cannot run current PyMongo's bulk_write, and an
    # upsert per row there costs a scan of the collection each.
    collection = Store.get_pymongo_collection()
    new = [
        s.model_dump(by_alias=True, exclude={"revision_id"})
        for s in stores
        if s.id not in existing
    ]
    if new:
        await collection.insert_many(new, ordered=False)
    for store in (s for s in stores if s.id in existing):
        await collection.update_one(
            {"_id": store.id},
            {"$set": {"name": store.name, "area_code": store.area_code}},
            upsert=True,
        )


async def _existing() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    cursor = Store.get_pymongo_collection().find({})
    async for raw in cursor:
        found[raw["_id"]] = (raw["name"], raw["area_code"])
    return found
