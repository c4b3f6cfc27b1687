"""What the try-it app writes and draws, without a browser: Markdown that shows paths as written, uploads named by their
own file name, the model list's labels, each face's quality and the gate's verdict beside the decision, and "no face
found" clear of the app's image label."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.tryit import app
from helpers.tryit.app import PACKS, decision_markdown, literal, model_choices, read_pair, run_verify, skipped_lines
from helpers.tryit.faces import UnreadablePhoto
from helpers.tryit.figures import annotate
from helpers.tryit.identify import Enrolled
from helpers.tryit.quality import NO_GATE
from helpers.tryit.verify import verify
from tests.code.test_tryit_decisions import gate_record, gated_model, grey_photo, unit

markdown_it = pytest.importorskip("markdown_it")


def shown(markdown: str) -> str:
    """The text a reader sees of ``markdown`` rendered as CommonMark (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", markdown_it.MarkdownIt("commonmark").render(markdown))).strip()


@pytest.mark.parametrize(
    "message",
    [
        "lay the gallery out as /x/<person>/<photo>.jpg",
        "skipped GALLERY/<person>/<photo>: cannot be read as a photo",
        "/tmp/*starred*/__init__/[link](x) `tick` &lt; back\\slash #1 <b>bold</b>",
    ],
)
def test_literal_markdown_shows_the_text_as_written(message: str) -> None:
    assert shown(f"**{literal(message)}**") == message


def test_skipped_gallery_photos_are_listed_as_written() -> None:
    skipped = [(f"/g/<person>/photo_{i}.jpg", f"/g/<person>/photo_{i}.jpg: no face found") for i in range(12)]
    lines = skipped_lines(Enrolled(gallery=None, images=3, skipped=skipped))
    assert shown(lines[0]) == "skipped /g/<person>/photo_0.jpg: no face found"
    assert len(lines) == 11 and lines[-1] == "and 2 more"


def test_an_unreadable_upload_is_named_by_its_own_file_name(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.png", tmp_path / "gradio" / "3f2a9c" / "holiday.jpg"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a photo")
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(good)
    with pytest.raises(UnreadablePhoto) as caught:
        read_pair(str(good), None, str(bad), None)
    assert str(caught.value).startswith("photo B (holiday.jpg): ") and str(tmp_path) not in str(caught.value)
    text = shown(run_verify(str(bad), None, str(good), None, "offline", "none", "none")[3])
    assert text.startswith("photo A (holiday.jpg): cannot be read as a photo") and "gradio" not in text


def test_the_verify_and_identify_texts_show_each_faces_quality_and_the_gates_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = np.zeros((256, 8))
    table[10], table[11], table[20] = unit(1), unit(0.9, np.sqrt(0.19)), unit(0, 1)
    photo_a, photo_b = np.full((200, 200, 3), 11, np.uint8), np.full((200, 200, 3), 10, np.uint8)
    gated = gated_model(table, gate_record("det_score", 0.605))  # photo A's confidence 0.61 passes, photo B's 0.60 does not
    text = shown(decision_markdown(gated, verify(gated, photo_a, photo_b)))
    assert "→ match — but photo B's face fails the quality gate, so this decision is not to be trusted" in text
    assert "photo A quality: detector confidence 0.61, eye distance (px) 35.24" in text and "photo A quality gate: passes (det_score 0.61" in text
    assert "photo B quality gate: rejected: too low a quality to trust a decision" in text and "quality gate: det_score >= 0.605, set on val" in text
    plain = gated_model(table, None)
    text = shown(decision_markdown(plain, verify(plain, photo_a, photo_b)))
    assert "→ match\n" in text and "photo B quality: detector confidence 0.6," in text and text.endswith(NO_GATE) and "fails" not in text
    grey_photo(tmp_path / "gallery" / "Ann" / "1.png", 10)
    grey_photo(tmp_path / "gallery" / "Bob" / "1.png", 20)
    probe = grey_photo(tmp_path / "probe.png", 10)
    monkeypatch.setattr(app, "cached_model", lambda spec, results: gated)
    text = shown(app.run_identify(str(probe), None, str(tmp_path / "gallery"), "fake", 2)[2])
    assert text.startswith("Ann — but photo B's face fails the quality gate") and "photo B quality gate: rejected" in text


def scored_step(results: Path, run: str, step: str, name: str | None, age: int) -> Path:
    """A fake step folder whose ``metrics.json`` names model ``name`` (no ``model`` at all for None), ``age`` seconds old."""
    folder = results / run / step
    folder.mkdir(parents=True)
    metrics = folder / "metrics.json"
    metrics.write_text(json.dumps({} if name is None else {"model": {"name": name}}))
    os.utime(metrics, (1e9 - age, 1e9 - age))
    return folder


def test_model_choices_label_each_run_with_its_model_and_date(tmp_path: Path) -> None:
    results = tmp_path / "results"
    tuned = scored_step(results, "20261207-192647-demo", "03_finetune_pack", "sface-lq-distill", age=0)
    base = scored_step(results, "20261207-192647-demo", "02_baseline", "offline", age=10)
    custom = scored_step(results, "my-run", "02_baseline", "dlib", age=20)
    (results / "my-run" / "pipeline.json").write_text(json.dumps({"created": "2026-12-05T08:03:09+00:00"}))
    by_hand = scored_step(results, "notebooks", "02_baseline", "offline", age=30)
    scored_step(results, "20261207-192647-demo", "02_half_written", None, age=40)
    scored_step(results, "20261207-192647-demo", "04_identify", "offline", age=50)
    assert model_choices(results) == [
        *((f"{pack} — {about}", pack) for pack, about in PACKS.items()),
        ("sface-lq-distill — run 2026-12-07 19:26, 03_finetune_pack", str(tuned)),
        ("offline — run 2026-12-07 19:26, 02_baseline", str(base)),
        ("dlib — run 2026-12-05 08:03, 02_baseline", str(custom)),
        ("offline — notebooks/02_baseline", str(by_hand)),
    ]
    assert [value for _, value in model_choices(tmp_path / "none")] == ["auto", "offline"]


def red_rows(image: np.ndarray) -> np.ndarray:
    """The rows of ``image`` that hold the red of "no face found"."""
    red = (image[..., 0] > 180) & (image[..., 1] < 110) & (image[..., 2] < 110)
    return np.nonzero(red.any(axis=1))[0]


@pytest.mark.parametrize("size", [(112, 112), (250, 250), (600, 1000), (3000, 4000)])
def test_no_face_is_written_at_the_bottom_left_clear_of_the_apps_label(size: tuple[int, int]) -> None:
    photo = np.full((*size, 3), 200, np.uint8)
    drawn = annotate(photo, None)
    rows, columns = red_rows(drawn), np.nonzero(((drawn[..., 0] > 180) & (drawn[..., 1] < 110)).any(axis=0))[0]
    assert rows.size and rows.min() > 0.8 * size[0]  # the bottom fifth: the app's label covers the top left
    assert columns.min() < 0.05 * size[1] and (columns.max() - columns.min()) > 0.4 * size[1]  # from the left, half the width or more
    assert np.array_equal(photo, np.full((*size, 3), 200, np.uint8))  # the photo itself is left alone
