"""Why a quality measure cannot be had here: a recogniser without raw features, a package or model files missing."""

from __future__ import annotations


class QualityUnavailable(RuntimeError):
    """A quality measure that cannot be computed here; ``reason`` says why, for a person to act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
