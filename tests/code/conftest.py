"""Fixtures of the code tests: a machine without mirror or network."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.core import sources
from helpers.models import packs


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No mirror, a temporary download cache and model root, and no download failures remembered from other tests."""
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(packs.MODEL_ROOT_ENV, str(tmp_path / "models"))
    monkeypatch.setattr(sources, "_FAILED_DOWNLOADS", {})
    return tmp_path


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every download fails as without a network; the list collects the URLs tried."""
    attempts: list[str] = []

    def refuse(url: str, timeout: float) -> None:
        attempts.append(url)
        raise OSError("network is unreachable")

    monkeypatch.setattr(sources.urllib.request, "urlopen", refuse)
    return attempts
