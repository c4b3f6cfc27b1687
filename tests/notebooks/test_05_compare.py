"""Notebook 05 under papermill on synthetic step folders: a model truly better at low resolution, and an identical twin.

One run compares three models with the baseline: ``finetuned`` (better separation at 16 and 24 px, the same
scores at HQ) and ``twin`` (a copy of the baseline's scores under another name). Each model's difference from
the baseline is computed on its own, so this is the same as two runs of two models, at half the cost.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers.pipeline import readme
from tests.code.test_compare import BASELINE, BETTER_AT_LOW_RES, write_step
from tests.notebooks.conftest import ROOT, run_notebook

N_BOOT = 100
PLOTS = (
    "roc_hq_vs_lq.png",
    "roc_lq_vs_lq.png",
    "det_hq_vs_lq.png",
    "det_lq_vs_lq.png",
    "auc_vs_resolution.png",
    "tar_at_1e-2_vs_resolution.png",
    "fmr_vs_resolution.png",
    "fnmr_vs_resolution.png",
    "roc_hq_vs_lq_e2e.png",
    "det_hq_vs_lq_e2e.png",
    "difference_auc.png",
    "difference_tar_at_1e-2.png",
    "difference_fnmr.png",
    "robustness.png",
)
IDENTIFIED = {"HQ": (0.9, 0.95, 0.012), "px16": (0.4, 0.55, 0.03)}  # a synthetic notebook 04 run: accuracy, rank-1, FPIR per view
PAIRS = 800 + 113_760  # 80 people x 6 images: 10 genuine pairs a person, every impostor pair, 3,160 pairs of people (TAR@FAR=1e-2)


def write_identification(folder: Path, model: str) -> Path:
    """A notebook 04 ``metrics.json`` with the fields notebook 05's headline reads, from :data:`IDENTIFIED`."""
    closed = [
        {"regime": regime, "classifier": "linear_svm", "view": view, "accuracy": accuracy + (0.1 if regime == "mixed" and view != "HQ" else 0)}
        for view, (accuracy, _, _) in IDENTIFIED.items()
        for regime in ("hq", "mixed")
    ]
    opened = [{"view": view, "rank1": rank1, "dir_fixed": rank1 - 0.05, "fpir_fixed": fpir} for view, (_, rank1, fpir) in IDENTIFIED.items()]
    folder.mkdir(parents=True)
    report = {
        "model": {"name": model},
        "headline_view": "px16",
        "headline_classifier": "linear_svm",
        "closed_set": {"results": closed},
        "open_set": {"results": opened, "target_fpir": 0.01},
    }
    (folder / "metrics.json").write_text(json.dumps(report))
    return folder


@pytest.fixture(scope="module")
def nb05_step(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nb05")
    folders = [
        write_step(root / name, name, separation, n_people=80, shown_as=shown_as)
        for name, separation, shown_as in (
            ("pretrained", BASELINE, ""),
            ("finetuned", BETTER_AT_LOW_RES, "Synthetic, fine-tuned for low quality"),
            ("twin", BASELINE, ""),
        )
    ]
    step = root / "05_compare"
    run_notebook(
        "05_compare.ipynb",
        root / "05_compare.ipynb",
        models=[str(folder) for folder in folders],
        run_dir=str(step),
        n_boot=N_BOOT,
        seed=0,
        primary_condition="px16-px16",
        primary_statistic="tar@1e-2",
        identification=[str(write_identification(root / "04_identify", "pretrained"))],
    )
    return step


@pytest.fixture(scope="module")
def report(nb05_step: Path) -> dict:
    return json.loads((nb05_step / "metrics.json").read_text())


def test_every_output_is_written(nb05_step: Path, report: dict) -> None:
    for name in ("summary.md", "metrics.json", "comparison.csv", "differences.csv", *PLOTS):
        assert (nb05_step / name).stat().st_size > 0, name
    table = pd.read_csv(nb05_step / "comparison.csv")
    assert len(table) == 5 * 3 and set(table["protocol"]) == {"open-set"} and (table["pairs"] + table["impostor_pairs_left_out"]).eq(PAIRS).all()
    assert report["baseline"] == "pretrained" and report["model_order"] == ["pretrained", "finetuned", "twin"]
    assert report["protocol"]["label"].startswith("open-set") and report["bootstrap"]["n_boot"] == N_BOOT


def test_the_summary_leads_with_the_declared_primary_endpoint(nb05_step: Path, report: dict) -> None:
    primary = report["primary"]
    assert (primary["condition"], primary["statistic"], primary["estimable"]) == ("px16-px16", "tar@1e-2", True)
    gain = primary["gains"]["finetuned"]
    assert gain["diff"] > 0 and gain["ci"][0] > 0 and gain["role"] == "primary" and gain["p_holm"] == gain["p_value"]
    text = (nb05_step / "summary.md").read_text()
    first = text.split("## Primary endpoint")[1].split("##")[0]
    assert "Declared before the run: **TAR@FAR=1e-2** on **16 px faces on both sides (oracle)** (px16-px16)." in first
    assert (
        f"- **finetuned** against pretrained: TAR@FAR=1e-2 rose from {gain['before']:.3f} to {gain['after']:.3f}, 95% CI of the change [{gain['ci'][0]:+.3f}, {gain['ci'][1]:+.3f}]"
        in first
    )
    for condition in ("HQ-px16", "px16-px16"):
        auc = report["differences"]["finetuned"][condition]["auc"]
        assert auc["diff"] > 0 and auc["ci"][0] > 0 and auc["p_holm"] >= auc["p_value"], condition
    assert report["non_inferiority"]["models"]["finetuned"]["non_inferior"] is True and "**non-inferior**" in text
    assert "## One operating threshold" in text and "| HQ-HQ | " in text


def test_notebook_05s_headline_is_carried_into_the_report(report: dict, nb05_step: Path) -> None:
    (row,) = report["identification"]
    assert (row["model"], row["view"], row["classifier"]) == ("pretrained", "px16", "linear_svm")
    assert row["accuracy HQ (HQ-trained)"] == 0.9 and row["accuracy (HQ-trained)"] == 0.4 and row["accuracy (mixed-trained)"] == pytest.approx(0.5)
    assert (row["rank-1 HQ"], row["rank-1"], row["DIR (fixed threshold)"], row["FPIR HQ"], row["FPIR target"]) == (0.95, 0.55, 0.5, 0.012, 0.01)
    section = (nb05_step / "summary.md").read_text().split("## Identification (notebook 04)")[1]
    assert "| pretrained | linear_svm | px16 | 0.900 | 0.400 | 0.500 | 0.950 | 0.550 | 0.500 | 0.012 | 0.010 |" in section


def test_models_are_ranked_by_what_they_lose_from_hq_to_16px(nb05_step: Path, report: dict) -> None:
    """``finetuned`` keeps its HQ separation at 16 px better than the baseline and its twin, which tie exactly."""
    robust = pd.read_csv(nb05_step / "robustness.csv")
    assert list(robust["statistic"].drop_duplicates()) == ["auc", "tar@1e-2"] and len(robust) == 2 * 3
    for _, rows in robust.groupby("statistic"):
        ranked = rows.set_index("model")
        assert ranked.loc["finetuned", "rank"] == 1 and ranked.loc["pretrained", "rank"] == ranked.loc["twin", "rank"] == 2
        assert ranked.loc["pretrained", "loss"] == ranked.loc["twin", "loss"] > ranked.loc["finetuned", "loss"] > 0
        assert (ranked["loss_low"] <= ranked["loss"]).all() and (ranked["loss"] <= ranked["loss_high"]).all()
        assert ranked.loc["finetuned", "loss_high"] < ranked.loc["pretrained", "loss_low"]  # told apart, not only ordered
    assert report["robustness"] == robust.to_dict(orient="records")
    section = (nb05_step / "summary.md").read_text().split("## Which model degrades least")[1].split("##")[0]
    first = robust.iloc[0]
    assert f"| auc | 1 | finetuned | {first['hq']:.3f} | {first['low_quality']:.3f} |" in section


def test_identical_score_files_give_intervals_containing_zero(nb05_step: Path, report: dict) -> None:
    differences = pd.read_csv(nb05_step / "differences.csv")
    twin = differences[differences["model"] == "twin"]
    assert len(twin) == 5 * 3 and (twin["diff"] == 0).all() and ((twin["low"] <= 0) & (twin["high"] >= 0)).all() and (twin["p_value"] == 1).all()
    text = (nb05_step / "summary.md").read_text()
    assert "- **twin** against pretrained: TAR@FAR=1e-2 stayed at" in text


def test_notebook_is_committed_clean_with_the_agreed_parameters() -> None:
    notebook = nbformat.read(ROOT / "notebooks" / "05_compare.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    tagged = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = [target.id for node in ast.parse(tagged[0].source).body for target in node.targets]
    assert names == [
        "models",
        "baseline",
        "run_dir",
        "n_boot",
        "seed",
        "primary_condition",
        "primary_statistic",
        "non_inferiority_margin",
        "seed_runs",
        "identification",
        "robustness_condition",
        "other_dataset",
    ]
    assert all("=" not in line.split("#", 1)[1] for line in tagged[0].source.splitlines() if "#" in line)


def test_the_readme_and_the_demo_page_are_regenerated_from_the_run(nb05_step: Path, tmp_path: Path) -> None:
    """``python -m helpers.pipeline.readme``: the README's headline (at most three rows, models named for people), the
    demo's time per notebook and its plot, and ``docs/demo.md``'s results block, each between its markers."""
    run = nb05_step.parent
    steps = [
        {
            "name": "05_compare",
            "notebook": str(ROOT / "notebooks" / "05_compare.ipynb"),
            "status": "completed",
            "seconds": 90.0,
            "parameters": {"run_dir": str(nb05_step)},
        }
    ]
    (run / "pipeline.json").write_text(json.dumps({"config_file": "/elsewhere/configs/demo.yaml", "created": "2026-11-23T04:00:00+00:00", "steps": steps}))
    (run / "hardware.json").write_text(json.dumps({"cpu": {"model": "Test CPU", "usable_cores": 2}, "ram_bytes": 24 * 2**30, "cuda": {"devices": []}}))
    docs, page = tmp_path / "docs", tmp_path / "docs" / "demo.md"
    docs.mkdir()
    page.write_text(f"# The demo\n\n{readme.block('results', 'old')}\n\nmore prose\n")
    readme_file = tmp_path / "README.md"
    readme_file.write_text(f"# Title\n\n{readme.block('demo-time', 'old')}\n\n{readme.block('demo-headline', 'old')}\n\nrest\n")
    assert readme.refresh(run, readme_file, docs) == [readme_file, docs / "demo_auc_vs_resolution.png", page]

    text = readme_file.read_text()
    assert text.startswith("# Title\n\n<!-- demo-time:start -->\n`make demo`: 1.5 min (05 compare 1.5) on Test CPU, 2 cores, 24 GB RAM, no GPU, 2026-11-23.\n")
    headline = text.split("<!-- demo-headline:start -->")[1].split("<!-- demo-headline:end -->")[0].strip().splitlines()
    assert headline[0].startswith("| condition (open-set) | pretrained: TAR@FAR=1e-2 | Synthetic, fine-tuned for low quality | gain of Synthetic, fine-tuned")
    # the primary endpoint, HQ-HQ, and no third row: px16-px16 is the only level of its ladder (LQ vs LQ, oracle, resolution)
    assert [line.split(" | ")[0] for line in headline[2:4]] == ["| 16 px faces on both sides (oracle) (px16-px16)", "| HQ faces on both sides (HQ-HQ)"]
    assert not headline[4].startswith("|") and text.endswith("<!-- demo-headline:end -->\n\nrest\n")
    report = json.loads((nb05_step / "metrics.json").read_text())
    gain = report["differences"]["finetuned"]["px16-px16"]["tar@1e-2"]
    assert f"| {gain['diff']:+.3f} [{gain['ci'][0]:+.3f}, {gain['ci'][1]:+.3f}] |" in headline[2]
    assert (docs / "demo_auc_vs_resolution.png").read_bytes() == (nb05_step / "auc_vs_resolution.png").read_bytes()

    results = page.read_text()
    assert results.startswith("# The demo\n\n<!-- results:start -->\nRun `") and results.endswith("<!-- results:end -->\n\nmore prose\n")
    assert "`finetuned` is Synthetic, fine-tuned for low quality" in results and "`pretrained` is pretrained" in results
    assert "### Primary endpoint" in results and "- **finetuned** against pretrained: TAR@FAR=1e-2 rose" in results
    details = results.split("### Every condition of the primary endpoint's alignment")[1].split("###")[0]
    assert [line.split(" | ")[0] for line in details.splitlines() if line.startswith("| ") and "---" not in line][1:] == [
        "| HQ-HQ",
        "| HQ-px24",
        "| HQ-px16",
        "| px16-px16",
    ]  # the oracle resolution ladder in both families; no sweeps in this run
    assert "### Corruptions seen in training" not in results  # no model here was trained by the workbench
    assert "### Identification (notebook 04)" in results and "| 05 compare | 1.5 |" in results
    with pytest.raises(ValueError, match="has no <!-- results:start -->"):
        readme.replace_block("no markers", "results", "body", page)
