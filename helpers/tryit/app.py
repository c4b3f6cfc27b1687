"""The try-it web app (``make app``): verify two photos, search a gallery, and watch the score move as the probe degrades.

Binds to 127.0.0.1 and makes no public share link unless asked; uploads live only in Gradio's
temporary cache, which it empties every :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import json
import re
import string
from datetime import datetime
from functools import partial
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from helpers.core.sources import project_path
from helpers.data.chains import PRESETS
from helpers.data.degrade import NAMED_LEVELS, Degradation
from helpers.data.faces import CROP_SIZE
from helpers.evaluation.reports import METRICS
from helpers.pipeline.folders import RESULTS, read_state
from helpers.tryit.faces import FoundFace, NoFace, UnreadablePhoto, find_face, read_photo
from helpers.tryit.figures import annotate, score_plot, seen_photo
from helpers.tryit.identify import Enrolled, enrolled_gallery, identify
from helpers.tryit.models import TryModel, cached_model
from helpers.tryit.quality import FaceQuality, gate_caveat, gate_line, quality_lines, quality_of
from helpers.tryit.verify import Verification, verify

CACHE_SECONDS = 600
NONE = "none"
PACKS = {"auto": "pack: buffalo_l where reachable, else offline", "offline": "pack: SCRFD + SFace, no download"}
"""The packs the model list offers first, with what each is."""
RUN_NAME = re.compile(r"\d{8}-\d{6}-")
"""A run folder's name: its UTC start, then its config's name (:func:`helpers.pipeline.folders.new_run_name`)."""
PUNCTUATION = re.compile(f"([{re.escape(string.punctuation)}])")
SHOWN_SKIPS = 10
"""Skipped gallery photos the Identify tab lists by name; the rest are counted."""
SIDES = ("photo A", "photo B")


def literal(text: object) -> str:
    """``text`` with every ASCII punctuation mark backslash-escaped, so gr.Markdown shows a path or an error message as
    written (``<person>/<photo>`` would otherwise be read as HTML tags, ``*`` and ``_`` as emphasis)."""
    return PUNCTUATION.sub(r"\\\1", str(text))


def run_date(run: Path) -> str | None:
    """When a run folder started (UTC, to the minute): from its name, else its ``pipeline.json``; None when neither says."""
    try:
        if RUN_NAME.match(run.name):
            return f"{datetime.strptime(run.name[:15], '%Y%m%d-%H%M%S'):%Y-%m-%d %H:%M}"
        created = (read_state(run) or {}).get("created")
        return None if created is None else f"{datetime.fromisoformat(created):%Y-%m-%d %H:%M}"
    except (OSError, ValueError, TypeError):
        return None


def step_label(step: Path) -> str | None:
    """A step folder as the model list names it: ``sface-lq-distill — run 2026-12-07 19:26, 03_finetune_pack``, or
    ``offline — notebooks/02_baseline`` when its run's date is unknown; None when its ``metrics.json`` names no model."""
    try:
        name = json.loads((step / METRICS).read_text(encoding="utf-8"))["model"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    date = run_date(step.parent)
    return f"{name} — {step.parent.name}/{step.name}" if date is None else f"{name} — run {date}, {step.name}"


def model_choices(results: str | Path = RESULTS) -> list[tuple[str, str]]:
    """The model list as ``(label, value)`` pairs: the packs, then every scored step folder (notebook 02 or 03) under
    ``results``, newest first, labelled with its model and run, its value the folder."""
    steps = sorted(project_path(results).glob(f"*/0[23]_*/{METRICS}"), key=lambda p: p.stat().st_mtime, reverse=True)
    labelled = [(step_label(path.parent), str(path.parent)) for path in steps]
    return [*((f"{pack} — {about}", pack) for pack, about in PACKS.items()), *((label, value) for label, value in labelled if label)]


def decision_markdown(model: TryModel, result: Verification) -> str:
    """Score, threshold (with its FMR and source) and decision, in plain words; each face's quality and the quality gate's
    verdict, a face it rejects said beside the decision (never changing it)."""
    qualities = [quality_of(model, face) for face in result.faces]
    lines = [f"**{literal(model.name)}**: cosine score **{result.score:.4f}**"]
    if result.operating is None:
        lines.append("no threshold for this model: run notebook 02 on it (`make demo`), or calibrate one on your photos (`lqface calibrate`)")
    else:
        caveat = gate_caveat(SIDES, qualities)
        lines.append(f"threshold {literal(result.operating.describe())} → **{'match' if result.match else 'no match'}**{literal(caveat)}")
    lines += [f"{side}: {literal(face.note)}" for side, face in zip(SIDES, result.faces, strict=True) if face.note]
    return "  \n".join([*lines, *quality_markdown(model, SIDES, qualities)])


def quality_markdown(model: TryModel, sides: tuple[str, ...], qualities: list[FaceQuality]) -> list[str]:
    """Each face's quality measures and the gate's verdict, then where the gate comes from, escaped for Markdown."""
    return [literal(line) for side, quality in zip(sides, qualities, strict=True) for line in quality_lines(side, quality)] + [literal(gate_line(model))]


def read_upload(path: str, side: str) -> np.ndarray:
    """An uploaded photo or webcam shot through notebook 01's decoder (EXIF, CMYK, 16-bit, size limit); a bad one is
    named by its side and its own file name, not by Gradio's temporary path."""
    try:
        return read_photo(path)
    except UnreadablePhoto as error:
        name = Path(path).name
        raise UnreadablePhoto(f"{side} ({name}): {str(error).removeprefix(f'{path}: ').replace(str(path), name)}") from None


def read_pair(file_a: str | None, cam_a: str | None, file_b: str | None, cam_b: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Photos A and B (an uploaded file as it is, else a webcam shot); the error says which is missing or bad."""
    path_a, path_b = file_a or cam_a, file_b or cam_b
    if not path_a or not path_b:
        raise UnreadablePhoto("Upload two photos (A and B), or take them with the webcam.")
    return read_upload(path_a, "photo A"), read_upload(path_b, "photo B")


def run_verify(
    file_a: str | None, cam_a: str | None, file_b: str | None, cam_b: str | None, spec: str, level_name: str, other: str, results: str = RESULTS
) -> tuple:
    """The Verify tab: both photos annotated, the aligned crops, and the decision of one model (or two side by side)."""
    try:
        photo_a, photo_b = read_pair(file_a, cam_a, file_b, cam_b)
    except UnreadablePhoto as error:
        return None, None, [], f"**{literal(error)}**"
    level = None if level_name == NONE else NAMED_LEVELS[level_name]
    texts, result = [], None
    for choice in [spec] + ([other] if other != NONE else []):
        model = cached_model(choice, results)
        try:
            result = verify(model, photo_a, photo_b, ("photo A", "photo B"), level)
        except NoFace as error:
            return *_no_face(photo_a, photo_b, model, level), [], f"**{literal(error)}**"
        texts.append(decision_markdown(model, result))
    crops = [(result.faces[0].crop, "photo A, aligned"), (result.faces[1].crop, f"photo B, aligned{'' if level is None else ' at ' + level.name}")]
    return annotate(photo_a, result.faces[0]), annotate(result.seen_b, result.faces[1]), crops, "\n\n".join(texts)


def _no_face(photo_a: np.ndarray, photo_b: np.ndarray, model: TryModel, level: Degradation | None) -> tuple[np.ndarray, np.ndarray]:
    """Both photos annotated when one of them has no face, photo B as the detector saw it: "no face found" where none was."""

    def found(photo: np.ndarray) -> FoundFace | None:
        try:
            return find_face(photo, model.detector, "")
        except NoFace:
            return None

    seen_b = seen_photo(model, photo_b, level)
    return annotate(photo_a, found(photo_a)), annotate(seen_b, found(seen_b))


def custom_level(resolution: int, blur: float, jpeg: int, noise: float, light: float, preset: str) -> Degradation:
    """The Degrade tab's sliders as one level (JPEG quality 100 means no JPEG step); a preset takes only the resolution."""
    if preset != NONE:
        return Degradation("custom", resolution=int(resolution), preset=preset)
    return Degradation(
        "custom",
        resolution=int(resolution),
        blur_sigma=float(blur),
        jpeg_quality=None if jpeg >= 100 else int(jpeg),
        noise_sigma=float(noise),
        light=float(light),
    )


def run_degrade(
    file_a: str | None,
    cam_a: str | None,
    file_b: str | None,
    cam_b: str | None,
    spec: str,
    resolution: int,
    blur: float,
    jpeg: int,
    noise: float,
    light: float,
    preset: str,
    results: str = RESULTS,
) -> tuple:
    """The Degrade tab: the probe degraded by the sliders, re-detected, scored; and the score against resolution."""
    try:
        photo_a, photo_b = read_pair(file_a, cam_a, file_b, cam_b)
    except UnreadablePhoto as error:
        return None, f"**{literal(error)}**", None
    model, level = cached_model(spec, results), custom_level(resolution, blur, jpeg, noise, light, preset)
    try:
        result = verify(model, photo_a, photo_b, ("photo A", "photo B"), level)
    except NoFace as error:
        return None, f"**{literal(error)}** (the detector ran on the degraded photo)", score_plot(model, photo_a, photo_b, level)
    return result.faces[1].crop, decision_markdown(model, result), score_plot(model, photo_a, photo_b, level)


def run_identify(file_b: str | None, cam_b: str | None, gallery: str, spec: str, top: int, results: str = RESULTS) -> tuple:
    """The Identify tab: the probe annotated, the top matches, and the decision ("unknown" below the threshold)."""
    path = file_b or cam_b
    if not path or not gallery:
        return None, None, "Upload photo B (the probe) and name a gallery folder (one sub-folder per person)."
    model = cached_model(spec, results)
    try:
        probe = read_upload(path, "photo B")
    except UnreadablePhoto as error:
        return None, None, f"**{literal(error)}**"
    try:
        enrolled = enrolled_gallery(model, project_path(gallery))  # searched again without re-embedding while unchanged
        found = identify(model, enrolled, probe, "the probe", int(top))
    except (NoFace, FileNotFoundError) as error:
        return annotate(probe, None) if isinstance(error, NoFace) else probe, None, f"**{literal(error)}**"
    table = pd.DataFrame({"rank": range(1, len(found.people) + 1), "person": found.people, "score": np.round(found.scores, 4)})
    quality = quality_of(model, found.face)
    caveat = "" if found.accepted is None else literal(gate_caveat(["photo B"], [quality]))
    text = f"**{literal(found.verdict)}**{caveat} ({len(enrolled.gallery)} people, {enrolled.images} photos; {len(enrolled.skipped)} skipped)"
    threshold = found.describe_threshold(len(enrolled.gallery)) or "no threshold for this model: run notebooks 02 and 04 on it (`make demo`)"
    lines = [text, f"threshold: {literal(threshold)}", *quality_markdown(model, ("photo B",), [quality]), *skipped_lines(enrolled)]
    return annotate(probe, found.face), table, "  \n".join(lines)


def skipped_lines(enrolled: Enrolled) -> list[str]:
    """The gallery photos left out, each with its reason, escaped for Markdown; past :data:`SHOWN_SKIPS`, only a count."""
    lines = [f"skipped {literal(path)}: {literal(reason.removeprefix(f'{path}: '))}" for path, reason in enrolled.skipped[:SHOWN_SKIPS]]
    more = len(enrolled.skipped) - SHOWN_SKIPS
    return [*lines, f"and {more} more"] if more > 0 else lines


def build(results: str | Path = RESULTS) -> gr.Blocks:
    """The app: Verify, Degrade and Identify tabs over the packs and the runs under ``results``."""
    choices, levels, where = model_choices(results), [NONE, *NAMED_LEVELS], {"results": str(results)}
    newest = choices[len(PACKS)][1] if len(choices) > len(PACKS) else choices[0][1]
    with gr.Blocks(title="LQFace Workbench: try it", delete_cache=(CACHE_SECONDS, CACHE_SECONDS)) as app:
        gr.Markdown("# LQFace Workbench: try it\nA model with its run's operating threshold, on your photos.")
        with gr.Row():
            file_a = gr.File(label="photo A (gallery)", file_types=["image"], elem_id="photo-a")
            file_b = gr.File(label="photo B (probe)", file_types=["image"], elem_id="photo-b")
        with gr.Accordion("or take them with the webcam", open=False), gr.Row():
            cam_a = gr.Image(label="photo A, webcam", type="filepath", sources=["webcam"])
            cam_b = gr.Image(label="photo B, webcam", type="filepath", sources=["webcam"])
        photos = [file_a, cam_a, file_b, cam_b]
        model = gr.Dropdown(choices, value=newest, label="model (pack or run)", allow_custom_value=True, elem_id="model")
        with gr.Tab("Verify"):
            with gr.Row():
                level = gr.Dropdown(levels, value=NONE, label="degrade photo B (notebook 01's levels)")
                other = gr.Dropdown([(NONE, NONE), *choices], value=NONE, label="second model, side by side", allow_custom_value=True, elem_id="other-model")
            button = gr.Button("Verify", variant="primary", elem_id="verify")
            result = gr.Markdown(elem_id="verify-result")
            with gr.Row():
                shown_a, shown_b = gr.Image(label="photo A: face used"), gr.Image(label="photo B: face used")
                crops = gr.Gallery(label="aligned crops", columns=2, height=CROP_SIZE * 2)
            button.click(partial(run_verify, **where), [*photos, model, level, other], [shown_a, shown_b, crops, result], api_name="verify")
        with gr.Tab("Degrade"):
            with gr.Row():
                resolution = gr.Slider(8, CROP_SIZE, value=CROP_SIZE, step=1, label="face resolution (px)")
                blur = gr.Slider(0, 6, value=0, step=0.5, label="Gaussian blur (sigma)")
                jpeg = gr.Slider(5, 100, value=100, step=5, label="JPEG quality (100: none)")
            with gr.Row():
                noise = gr.Slider(0, 40, value=0, step=1, label="noise (sigma, grey levels)")
                light = gr.Slider(0.1, 1.0, value=1.0, step=0.05, label="light (brightness factor)")
                preset = gr.Dropdown([NONE, *PRESETS], value=NONE, label="preset chain")
            degrade_button = gr.Button("Degrade photo B and score", variant="primary")
            degraded_text = gr.Markdown()
            with gr.Row():
                degraded_crop, plot = gr.Image(label="photo B: aligned after degrading"), gr.Plot(label="score against resolution")
            degrade_inputs, degrade_outputs = [*photos, model, resolution, blur, jpeg, noise, light, preset], [degraded_crop, degraded_text, plot]
            degrade_button.click(partial(run_degrade, **where), degrade_inputs, degrade_outputs, api_name="degrade")
            for slider in (resolution, blur, jpeg, noise, light):  # the score follows the sliders as they are let go
                slider.release(partial(run_degrade, **where), degrade_inputs, degrade_outputs, api_name=False)
            preset.change(partial(run_degrade, **where), degrade_inputs, degrade_outputs, api_name=False)
        with gr.Tab("Identify", elem_id="identify-tab"):
            with gr.Row():
                gallery = gr.Textbox(label="gallery folder (GALLERY/<person>/<photo>)", elem_id="gallery")
                top = gr.Slider(1, 20, value=5, step=1, label="top matches")
            identify_button = gr.Button("Identify photo B", variant="primary", elem_id="identify")
            verdict = gr.Markdown(elem_id="identify-result")
            with gr.Row():
                probe_shown, matches = gr.Image(label="photo B: face used"), gr.Dataframe(label="matches")
            identify_button.click(partial(run_identify, **where), [file_b, cam_b, gallery, model, top], [probe_shown, matches, verdict], api_name="identify")
    return app
