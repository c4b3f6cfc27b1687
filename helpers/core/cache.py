"""An append-only key -> record store on disk: the checkpoint of long per-image loops."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class JsonlCache:
    """Records appended one JSON line at a time, so a killed run loses at most one line.

    Keys are content hashes (plus whatever settings change the result), so a
    re-run skips every item already done and a changed setting redoes it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._records: dict[str, Any] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a line torn by an interrupted write
                    continue
                self._records[entry["key"]] = entry["value"]
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: str) -> Any:
        """The stored record for ``key``, or ``None``."""
        return self._records.get(key)

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` and append it to the file at once."""
        self._records[key] = value
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")
