"""The store master: which store ids exist, with their names and areas."""

from __future__ import annotations

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel


class Store(Document):
    """One row of the store master, keyed by its StoreID exactly as written."""

    id: str = Field(alias="_id")  # type: ignore[assignment]
    name: str
    area_code: str

    class Settings:
        name = "stores"
        indexes = [IndexModel([("area_code", ASCENDING), ("_id", ASCENDING)])]
