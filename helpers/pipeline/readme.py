"""The README's headline and the results pages in ``docs/`` from finished pipeline runs, never by hand.

    python -m helpers.pipeline.readme results/<demo run> [results/<study run>]

Each run's config name says what it refreshes. A ``demo`` run: the README's headline (at most three rows:
the primary endpoint, HQ-HQ and the next level of the primary endpoint's ladder, models named for people),
its AUC-versus-resolution plot (copied to ``docs/``), the demo's time per notebook, and the results block of
``docs/demo.md`` (the primary endpoint in words, the ladder, seen and unseen corruptions, every condition,
identification). A ``study`` run: its time per notebook in the README and the results block of ``docs/study.md``.
Each block sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers and is replaced whole.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helpers.core.files import write_text_atomic
from helpers.core.sources import PROJECT_ROOT, project_path
from helpers.evaluation.conditions import HQ_GALLERY
from helpers.evaluation.reports import read_report
from helpers.evaluation.summary import exposure_markdown, headline_markdown, model_labels, primary_lines, read_comparison, results_markdown
from helpers.identification.report import headline_markdown as identification_markdown
from helpers.pipeline.folders import COMPLETED, read_state

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
PLOT = "auc_vs_resolution.png"
COMPARE_NOTEBOOKS = ("05_compare.ipynb", "04_compare.ipynb")  # the comparison, and its name before identification came first
PAGES = {"demo": "demo.md", "study": "study.md"}
"""The config names this module knows, and the page in ``docs/`` each one's results go to."""
NOTEBOOK_NAMES = {"01": "prepare", "02": "baseline", "03": "fine-tune", "04": "identify", "05": "compare", "06": "try it"}


def block(name: str, body: str) -> str:
    """``body`` between the markers of block ``name``."""
    return f"<!-- {name}:start -->\n{body.strip()}\n<!-- {name}:end -->"


def replace_block(text: str, name: str, body: str, where: Path) -> str:
    """``text`` with block ``name`` replaced by ``body``; raises naming ``where`` when the markers are missing."""
    pattern = re.compile(re.escape(f"<!-- {name}:start -->") + r".*?" + re.escape(f"<!-- {name}:end -->"), re.S)
    if not pattern.search(text):
        raise ValueError(f"{where} has no <!-- {name}:start --> ... <!-- {name}:end --> block to replace")
    return pattern.sub(lambda _: block(name, body), text, count=1)


def comparison_step(state: dict[str, Any], run: Path) -> dict[str, Any]:
    """The run's last completed notebook-05 step (with split seeds: the last seed's, which pools them all); raises when the run has none."""
    for step in reversed(state["steps"]):
        if Path(step["notebook"]).name in COMPARE_NOTEBOOKS and step["status"] == COMPLETED:
            return step
    raise ValueError(f"{run}: no completed {COMPARE_NOTEBOOKS[0]} step; finish the run first (re-run its config to resume)")


def ladder(report: dict[str, Any]) -> list[str]:
    """The primary endpoint's ladder: every condition of its family, alignment and factor (e.g. the realistic chain
    found end to end, HQ gallery vs LQ probe), sharpest first."""
    info = report["condition_info"]
    primary = info[report["endpoint"]["condition"]]
    same = [name for name in report["condition_order"] if all(info[name][key] == primary[key] for key in ("family", "mode", "factor"))]
    return sorted(same, key=lambda name: -info[name]["resolution"])


def headline_conditions(report: dict[str, Any]) -> list[str]:
    """The README's three rows: the primary endpoint, HQ-HQ, and the primary's next harder level (else the next easier)."""
    steps, primary = ladder(report), report["endpoint"]["condition"]
    at = steps.index(primary)
    neighbour = steps[at + 1] if at + 1 < len(steps) else steps[at - 1] if at else None
    return [primary, "HQ-HQ", *([neighbour] if neighbour else [])]


def detail_conditions(report: dict[str, Any]) -> list[str]:
    """The details table, all in the primary endpoint's alignment: its factor in both families (HQ gallery and
    LQ on both sides), then every other level against the HQ gallery (one per corruption family in the demo)."""
    info = report["condition_info"]
    primary = info[report["endpoint"]["condition"]]
    aligned = [name for name in report["condition_order"] if info[name]["mode"] == primary["mode"] and name != "HQ-HQ"]
    rows = [name for name in aligned if info[name]["factor"] == primary["factor"]]
    rows += [name for name in aligned if info[name]["factor"] != primary["factor"] and info[name]["family"] == HQ_GALLERY]
    return ["HQ-HQ", *rows]


def machine_line(run: Path) -> str:
    """``AMD EPYC, 2 cores, 24 GB RAM, no GPU`` from the run's ``hardware.json``."""
    hardware = json.loads((run / "hardware.json").read_text(encoding="utf-8"))
    gpus = [device["name"] for device in hardware["cuda"]["devices"]]
    memory = f", {hardware['ram_bytes'] / 2**30:.0f} GB RAM" if hardware.get("ram_bytes") else ""
    return f"{hardware['cpu']['model']}, {hardware['cpu']['usable_cores']} cores{memory}, {', '.join(gpus) or 'no GPU'}"


def minutes_per_notebook(state: dict[str, Any]) -> dict[str, float]:
    """Wall minutes per notebook number (``"01"``: every step running notebook 01 summed), in notebook order."""
    minutes: dict[str, float] = {}
    for step in state["steps"]:
        number = Path(step["notebook"]).name[:2]
        minutes[number] = minutes.get(number, 0.0) + (step["seconds"] or 0) / 60
    return dict(sorted(minutes.items()))


def timing_line(run: Path, state: dict[str, Any]) -> str:
    """``about 8 min (01 prepare 2.1 · 02 baseline 1.6 · ...) on <machine>, <date>``."""
    per = minutes_per_notebook(state)
    parts = " · ".join(f"{number} {NOTEBOOK_NAMES.get(number, '')} {value:.1f}" for number, value in per.items())
    return f"{sum(per.values()):.1f} min ({parts}) on {machine_line(run)}, {state['created'][:10]}"


def selection_note(report: dict[str, Any]) -> str:
    """Which epoch val kept of each fine-tuned model, in words (epoch 0 is the untrained start: its rows repeat the pretrained model's)."""
    labels, notes = model_labels(report), []
    for name in report["model_order"][1:]:
        training = read_report(project_path(report["models"][name]["folder"])).training or {}
        if "best_epoch" not in training:
            continue
        kept, epochs = training["best_epoch"], training["config"]["epochs"]
        start = " (the untrained start: the fine-tune did not improve the val primary statistic, so its rows repeat the pretrained model's)"
        notes.append(f"{labels[name]}: val kept epoch {kept} of {epochs}{start if kept == 0 else ''}")
    return "; ".join(notes) + "." if notes else ""


def headline_block(state: dict[str, Any], report: dict[str, Any], plot: str) -> str:
    """The README's headline: a table of at most three rows, models named for people, its provenance and the plot."""
    table = headline_markdown(report, headline_conditions(report), labels=model_labels(report)).strip()
    config = Path(state["config_file"]).name
    return "\n".join(
        [
            table,
            "",
            f"Test people never seen in training; 95% intervals resample people. {selection_note(report)} `make demo` (`configs/{config}`), "
            f"[every number and how to read it](docs/demo.md).",
            "",
            f"![AUC versus face resolution, demo run](docs/{plot})",
        ]
    )


def results_page(run: Path, state: dict[str, Any], report: dict[str, Any]) -> str:
    """A results page's generated block: provenance, the primary endpoint in words, the ladder, seen and unseen
    corruptions, every condition of the primary's alignment, identification, and time per notebook."""
    labels = model_labels(report)
    lines = [
        f"Run `{run.name}` of `configs/{Path(state['config_file']).name}`: {timing_line(run, state)}. "
        "Regenerate with `python -m helpers.pipeline.readme <run folder>`.",
        "",
        "Models: " + "; ".join(f"`{key}` is {labels[key]}" for key in report["model_order"]) + ".",
        "",
        *[line.replace("## Primary endpoint", "### Primary endpoint") for line in primary_lines(report)],
        "### The primary endpoint's ladder",
        "",
        headline_markdown(report, ["HQ-HQ", *ladder(report)], labels=labels).strip(),
        "",
    ]
    if any(report.get("exposure", {}).values()):
        lines += ["### Corruptions seen in training and held out", "", exposure_markdown(report).strip(), ""]
    lines += ["### Every condition of the primary endpoint's alignment", "", results_markdown(report, detail_conditions(report)).strip(), ""]
    if report.get("identification"):
        lines += ["### Identification (notebook 04)", "", identification_markdown(report["identification"]).strip(), ""]
    per = minutes_per_notebook(state)
    lines += ["### Time per notebook", "", "| notebook | minutes |", "|---|---|"]
    lines += [f"| {number} {NOTEBOOK_NAMES.get(number, '')} | {value:.1f} |" for number, value in per.items()]
    lines += [f"| all | {sum(per.values()):.1f} |"]
    return "\n".join(lines)


def refresh(run: Path, readme: Path = README, docs: Path = DOCS) -> list[Path]:
    """Rewrite what ``run`` (a finished demo or study run) owns in ``readme`` and ``docs``; returns the files written."""
    state = read_state(run)
    if state is None:
        raise ValueError(f"{run}: no pipeline.json; pass a run folder made by `lqface run`")
    name = Path(state["config_file"]).stem
    if name not in PAGES:
        raise ValueError(f"{run}: a run of configs/{name}.yaml; the README shows runs of {', '.join(f'configs/{key}.yaml' for key in PAGES)}")
    compared = Path(comparison_step(state, run)["parameters"]["run_dir"])
    report = read_comparison(compared)
    text = replace_block(readme.read_text(encoding="utf-8"), f"{name}-time", f"`make {name}`: {timing_line(run, state)}.", readme)
    written = [readme]
    if name == "demo":
        plot = f"demo_{PLOT}"
        shutil.copyfile(compared / PLOT, docs / plot)
        text = replace_block(text, "demo-headline", headline_block(state, report, plot), readme)
        written.append(docs / plot)
    write_text_atomic(readme, text)
    page = docs / PAGES[name]
    write_text_atomic(page, replace_block(page.read_text(encoding="utf-8"), "results", results_page(run, state, report), page))
    return [*written, page]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished pipeline run folders of configs/demo.yaml or configs/study.yaml")
    args = parser.parse_args(argv)
    for run in args.runs:
        written = refresh(project_path(run))
        print(f"{run}: regenerated {', '.join(map(str, written))}")


if __name__ == "__main__":
    main()
