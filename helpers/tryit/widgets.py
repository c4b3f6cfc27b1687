"""Notebook 06's try-it panel: the app's Verify and Degrade as ipywidgets, for people who live in JupyterLab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from helpers.core.files import write_json_atomic
from helpers.data.degrade import NAMED_LEVELS, Degradation, level_named
from helpers.data.scan import UndecodableImage, decode_rgb
from helpers.tryit.app import literal
from helpers.tryit.faces import NoFace
from helpers.tryit.figures import annotate, score_plot
from helpers.tryit.models import TryModel, cached_model
from helpers.tryit.verify import Verification, verify

NONE = "none"


def pair_figure(photo_a: np.ndarray, result: Verification) -> Figure:
    """Photo A and photo B as the detector saw it (degraded at the level ``result`` was verified at), each with the face
    used, and both aligned crops, titled with the score and the decision."""
    figure, axes = plt.subplots(1, 4, figsize=(12, 3.4), gridspec_kw={"width_ratios": [2, 2, 1, 1]})
    panels = (annotate(photo_a, result.faces[0]), annotate(result.seen_b, result.faces[1]), result.faces[0].crop, result.faces[1].crop)
    titles = ("photo A", f"photo B{'' if result.level is None else ' at ' + result.level}", "A, aligned", "B, aligned")
    for axis, image, title in zip(axes, panels, titles, strict=True):
        axis.imshow(image)
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    decision = "no threshold" if result.match is None else ("match" if result.match else "no match")
    figure.suptitle(f"cosine score {result.score:.4f}: {decision}")
    figure.tight_layout()
    return figure


def verification_record(model: TryModel, result: Verification) -> dict[str, Any]:
    """What notebook 06 saves of one verification: model, score, threshold with its FMR and source, decision, detections."""
    operating = result.operating
    return {
        "model": model.name,
        "model_source": model.source,
        "score": result.score,
        "threshold": None if operating is None else operating.threshold,
        "threshold_fmr": None if operating is None else operating.fmr,
        "threshold_source": None if operating is None else operating.source,
        "match": result.match,
        "level": result.level,
        "faces": [{"bbox": list(face.face.bbox), "confidence": face.face.score, "note": face.note} for face in result.faces],
    }


def save_verification(run: Path, model: TryModel, result: Verification) -> Path:
    """Write ``verification.json`` into ``run``, atomically."""
    write_json_atomic(Path(run) / "verification.json", verification_record(model, result))
    return Path(run) / "verification.json"


def _uploaded(upload: widgets.FileUpload) -> np.ndarray | None:
    """The uploaded photo through notebook 01's decoder, or ``None`` before an upload."""
    if not upload.value:
        return None
    file = upload.value[0]
    return decode_rgb(bytes(file["content"]), file["name"])[0]


def panel(choices: list[tuple[str, str]], results: str | Path) -> widgets.VBox:
    """Upload two photos, pick a model (``(label, value)`` choices) and a level, press Verify: the pair figure, the decision
    and the score against resolution."""
    upload_a, upload_b = widgets.FileUpload(accept="image/*", description="photo A"), widgets.FileUpload(accept="image/*", description="photo B")
    model = widgets.Dropdown(options=choices, value=choices[0][1], description="model", layout=widgets.Layout(width="90%"))
    level = widgets.Dropdown(options=[NONE, *NAMED_LEVELS], value=NONE, description="degrade B")
    button, output = widgets.Button(description="Verify", button_style="primary"), widgets.Output()

    def run(_: widgets.Button) -> None:
        output.clear_output()
        with output:
            try:
                photo_a, photo_b = _uploaded(upload_a), _uploaded(upload_b)
                if photo_a is None or photo_b is None:
                    display(Markdown("Upload two photos first."))
                    return
                chosen = cached_model(model.value, str(results))
                step: Degradation | None = None if level.value == NONE else level_named(level.value)
                result = verify(chosen, photo_a, photo_b, ("photo A", "photo B"), step)
            except (NoFace, UndecodableImage, ValueError) as error:
                display(Markdown(f"**{literal(error)}**"))
                return
            display(pair_figure(photo_a, result), score_plot(chosen, photo_a, photo_b, step or Degradation("HQ")))
            plt.close("all")

    button.on_click(run)
    return widgets.VBox([widgets.HBox([upload_a, upload_b]), model, level, button, output])
