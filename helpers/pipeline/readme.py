"""Regenerate the README's demo results from a finished pipeline run, never by hand.

    python -m helpers.pipeline.readme results/<run folder>

Replaces the block between the ``demo-results`` markers in ``README.md`` with the
run's date, hardware, command and wall time (from ``pipeline.json`` and
``hardware.json``), the headline (the primary statistic before and after at HQ-HQ and HQ
gallery vs realistic-chain probes found end to end; :func:`helpers.evaluation.summary.headline_markdown`),
the primary endpoint in words, the gains on corruptions seen and unseen in training, the
end-to-end realistic results table with failures to acquire (:mod:`helpers.evaluation.summary`),
and its AUC-versus-resolution plot, copied to ``docs/``. The oracle-alignment and bicubic results
stay in the run's ``summary.md`` and ``docs/demo.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path
from typing import Any

from helpers.core.files import write_text_atomic
from helpers.core.sources import PROJECT_ROOT, project_path
from helpers.evaluation.summary import exposure_markdown, headline_markdown, primary_lines, read_comparison, results_markdown
from helpers.pipeline.folders import COMPLETED, read_state

README = PROJECT_ROOT / "README.md"
START, END = "<!-- demo-results:start -->", "<!-- demo-results:end -->"
PLOT = "auc_vs_resolution.png"
COMPARE_NOTEBOOKS = ("05_compare.ipynb", "04_compare.ipynb")  # the comparison, and its name before identification came first


def headline_conditions(report: dict[str, Any]) -> list[str]:
    """HQ-HQ, then the primary endpoint's ladder: every condition of its family, alignment and factor (e.g. the
    realistic chain found end to end, HQ gallery vs LQ probe), sharpest first."""
    info = report["condition_info"]
    primary = info[report["endpoint"]["condition"]]
    same = [name for name in report["condition_order"] if all(info[name][key] == primary[key] for key in ("family", "mode", "factor"))]
    return ["HQ-HQ", *sorted(same, key=lambda name: -info[name]["resolution"])]


def detail_conditions(report: dict[str, Any]) -> list[str]:
    """The details table: the primary endpoint's factor in both families, then every one-factor sweep, all in its alignment."""
    info = report["condition_info"]
    primary = info[report["endpoint"]["condition"]]
    sweeps = {"", "resolution", primary["factor"]}
    rows = [name for name in report["condition_order"] if info[name]["mode"] == primary["mode"] and info[name]["factor"] == primary["factor"]]
    rows += [
        name
        for name in report["condition_order"]
        if info[name]["mode"] == primary["mode"] and info[name]["factor"] not in sweeps and info[name]["resolution"] == 112
    ]
    return ["HQ-HQ", *rows]


def comparison_step(state: dict[str, Any], run: Path) -> dict[str, Any]:
    """The run's last completed notebook-04 step (with split seeds: the last seed's, which pools them all); raises when the run has none."""
    for step in reversed(state["steps"]):
        if Path(step["notebook"]).name in COMPARE_NOTEBOOKS and step["status"] == COMPLETED:
            return step
    raise ValueError(f"{run}: no completed {COMPARE_NOTEBOOKS[0]} step; finish the run first (re-run its config to resume)")


def _shown(path: Path) -> str:
    """``path`` relative to the project root where it lies inside it (or in another checkout's ``configs/``), else whole."""
    if path.is_relative_to(PROJECT_ROOT):
        return path.relative_to(PROJECT_ROOT).as_posix()
    return f"configs/{path.name}" if path.parent.name == "configs" else str(path)


def machine_line(run: Path) -> str:
    """``AMD EPYC, 2 cores, 24 GB RAM, no GPU`` from the run's ``hardware.json``."""
    hardware = json.loads((run / "hardware.json").read_text(encoding="utf-8"))
    gpus = [device["name"] for device in hardware["cuda"]["devices"]]
    memory = f", {hardware['ram_bytes'] / 2**30:.0f} GB RAM" if hardware.get("ram_bytes") else ""
    return f"{hardware['cpu']['model']}, {hardware['cpu']['usable_cores']} cores{memory}, {', '.join(gpus) or 'no GPU'}"


def results_block(run: Path, docs: Path) -> str:
    """The README's demo-results section for ``run``; copies the plot into ``docs`` (the README's docs/ folder)."""
    state = read_state(run)
    if state is None:
        raise ValueError(f"{run}: no pipeline.json; pass a run folder made by `python -m helpers.pipeline`")
    step = comparison_step(state, run)
    plot = docs / f"demo_{PLOT}"
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(step["parameters"]["run_dir"]) / PLOT, plot)
    seconds = sum(s["seconds"] or 0 for s in state["steps"])
    report = read_comparison(step["parameters"]["run_dir"])
    return "\n".join(
        [
            START,
            headline_markdown(report, headline_conditions(report)).strip(),
            "",
            *[line.replace("## Primary endpoint", "**Primary endpoint.**") for line in primary_lines(report) if line],
            "",
            f"Measured by `make demo` (`{_shown(Path(state['config_file']))}`) on {state['created'][:10]}: {machine_line(run)}; "
            f"notebooks 01-04 took {seconds / 60:.1f} min in all. Regenerate with `python -m helpers.pipeline.readme <run folder>`.",
            "",
            f"![AUC versus face resolution, demo run](docs/{plot.name})",
            "",
            *exposure_lines(report),
            "<details><summary>AUC and the primary statistic on the primary endpoint's ladder and every one-factor sweep</summary>",
            "",
            results_markdown(report, detail_conditions(report)).strip(),
            "",
            "</details>",
            END,
        ]
    )


def exposure_lines(report: dict[str, Any]) -> list[str]:
    """The seen/unseen gains table with its lead-in, or nothing when no compared model was trained here."""
    if not any(report.get("exposure", {}).values()):
        return []
    return ["Gains on corruptions seen in training and on held-out (unseen) ones:", "", exposure_markdown(report).strip(), ""]


def replace_block(text: str, block: str) -> str:
    """``text`` with the marked block replaced; raises when the markers are missing."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{README} has no {START} ... {END} block to replace")
    return pattern.sub(lambda _: block, text, count=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a finished pipeline run folder (results/<run>)")
    args = parser.parse_args(argv)
    block = results_block(project_path(args.run), README.parent / "docs")
    write_text_atomic(README, replace_block(README.read_text(encoding="utf-8"), block))
    print(f"{README}: demo results regenerated from {args.run}")


if __name__ == "__main__":
    main()
