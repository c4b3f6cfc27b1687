"""Conditions: which quality level each side of a pair is seen at (HQ-HQ, HQ gallery vs LQ probe, LQ vs LQ)."""

from __future__ import annotations

from dataclasses import dataclass

from helpers.data.degrade import HQ, Degradation

HQ_CONDITION = "HQ-HQ"
HQ_GALLERY = "HQ gallery vs LQ probe"
LQ_BOTH = "LQ vs LQ"
FAMILIES = (HQ_CONDITION, HQ_GALLERY, LQ_BOTH)


@dataclass(frozen=True)
class Condition:
    """A comparison: gallery side ``a`` at one quality level, probe side ``b`` at another."""

    name: str
    level_a: Degradation
    level_b: Degradation

    @property
    def resolution(self) -> int:
        """Face resolution of the lower-quality side (the x axis of resolution plots)."""
        return min(self.level_a.resolution, self.level_b.resolution)

    @property
    def family(self) -> str:
        """``HQ-HQ``, ``HQ gallery vs LQ probe`` or ``LQ vs LQ``."""
        if self.level_a.is_identity:
            return HQ_CONDITION if self.level_b.is_identity else HQ_GALLERY
        return LQ_BOTH

    def describe(self) -> str:
        """The condition in plain words, e.g. ``HQ gallery vs 16 px probes``."""
        a, b = _side(self.level_a), _side(self.level_b)
        return f"{b} faces on both sides" if a == b else f"{a} gallery vs {b} probes"


def _side(level: Degradation) -> str:
    """A level in words: ``HQ``, ``16 px`` for a pure resolution level, else its name."""
    if level.is_identity:
        return "HQ"
    return f"{level.resolution} px" if level == Degradation(level.name, resolution=level.resolution) else level.name


def conditions(levels: list[Degradation] | tuple[Degradation, ...]) -> list[Condition]:
    """HQ-HQ, then HQ-LQ and LQ-LQ for every level."""
    found = [Condition(HQ_CONDITION, HQ, HQ)]
    for level in levels:
        found += [Condition(f"HQ-{level.name}", HQ, level), Condition(f"{level.name}-{level.name}", level, level)]
    return found
