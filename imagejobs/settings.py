"""Service configuration, read once from the environment at start-up.

Names and defaults follow CONTRACT.md. Nothing else in the code reads
``os.environ``: the entry point builds one :class:`Settings` and passes it in.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def bundled_store_master() -> Path:
    """The store master CSV that ships inside the package."""
    return Path(
        str(resources.files("imagejobs") / "data" / "StoreMasterAssignment.csv")
    )


def parse_delay(value: object) -> tuple[float, float]:
    """Read ``PROCESSING_DELAY``: ``MIN-MAX`` or one number of seconds."""
    if isinstance(value, tuple | list):
        low, high = (float(v) for v in value)
    elif isinstance(value, int | float):
        low = high = float(value)
    else:
        text = str(value).strip()
        low_text, sep, high_text = text.partition("-")
        try:
            low = float(low_text)
            high = float(high_text) if sep else low
        except ValueError:
            raise ValueError(
                f"PROCESSING_DELAY must be MIN-MAX or one number, not {text!r}"
            ) from None
    if low < 0 or high < low:
        raise ValueError("PROCESSING_DELAY needs 0 <= MIN <= MAX")
    return low, high


class Settings(BaseSettings):
    """Every setting of the service; see CONTRACT.md for the meaning of each."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    mongodb_url: str | None = None
    mongodb_database: str = "imagejobs"
    amqp_url: str | None = None
    amqp_prefix: str = Field("imagejobs", pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    dispatch_window: int = Field(1024, ge=1)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    store_master: Path | None = None
    processing_delay: Annotated[tuple[float, float], NoDecode] = (0.1, 0.4)

    concurrency: int = Field(256, ge=1)
    fetch_concurrency: int = Field(64, ge=1)
    fetch_per_host: int = Field(16, ge=1)
    fetch_connect_timeout: float = Field(5.0, gt=0)
    fetch_read_timeout: float = Field(10.0, gt=0)
    fetch_deadline: float = Field(30.0, gt=0)
    fetch_attempts: int = Field(3, ge=1, le=20)
    max_image_bytes: int = Field(52_428_800, ge=1)
    max_image_pixels: int = Field(200_000_000, ge=1)
    max_redirects: int = Field(5, ge=0)
    allow_private_sources: bool | None = None

    auth_required: bool | None = None
    admin_token: str | None = None
    max_body_bytes: int = Field(10_485_760, ge=1)
    max_visits: int = Field(10_000, ge=1)
    max_images: int = Field(100_000, ge=1)
    max_url_length: int = Field(2048, ge=16)
    submit_rate: int = Field(120, ge=1)
    graphiql: bool = True
    graphql_introspection: bool = True
    graphql_max_depth: int = Field(10, ge=2)
    graphql_max_tokens: int = Field(10_000, ge=100)
    graphql_max_aliases: int = Field(20, ge=0)
    debug: bool = False
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    shutdown_grace: float = Field(20.0, ge=0)

    @field_validator("processing_delay", mode="before")
    @classmethod
    def _read_delay(cls, value: object) -> tuple[float, float]:
        return parse_delay(value)

    @model_validator(mode="after")
    def _loopback_defaults(self) -> Settings:
        if self.allow_private_sources is None:
            self.allow_private_sources = self.is_loopback
        if self.auth_required is None:
            self.auth_required = not self.is_loopback
        return self

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS

    @property
    def store_master_path(self) -> Path:
        return self.store_master or bundled_store_master()
