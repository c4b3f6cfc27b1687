"""Plain Markdown tables for the reports (``summary.md``) the notebooks write."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table of already formatted cells, ending in a newline."""
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def frame_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A data frame as a Markdown table, floats to ``digits`` decimals and missing values as blanks."""

    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    return table([str(column) for column in frame.columns], ([cell(v) for v in row] for row in frame.itertuples(index=False)))
