"""Where the shared test material lives: ``shared/`` beside the repository.

CI clones the repository next to ``shared/``; ``IMAGEJOBS_SHARED`` points
elsewhere. A missing folder fails the tests that need it, never skips them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SHARED = Path(
    os.environ.get(
        "IMAGEJOBS_SHARED", Path(__file__).resolve().parents[1].parent / "shared"
    )
)


def load_manifest(folder: str) -> list[dict[str, Any]]:
    """The entries of ``shared/<folder>/manifest.json``."""
    path = SHARED / folder / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: put shared/ beside the repository "
            "or set IMAGEJOBS_SHARED"
        )
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return entries
