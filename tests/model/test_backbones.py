"""Trainable embedders: weights provenance, the pack recogniser in torch, and ONNX export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from helpers.core.sources import ChecksumMismatch, ResourceUnavailable
from helpers.models import backbones
from helpers.models.backbones import EMBEDDER_PREPROCESS, build_embedder
from helpers.models.export import export_onnx, max_export_error
from helpers.models.packs import offline_pack
from helpers.models.recognisers import Recogniser
from tests.model.conftest import synthetic_crop


def crops(n: int) -> np.ndarray:
    return np.stack([synthetic_crop(i, 0) for i in range(n)])


def test_resnet50_without_weights_stops_unless_a_fallback_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LQFACE_MIRROR", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ResourceUnavailable, match=r"models/torchvision/resnet50-11ad3fa6\.pth.*fallback"):
        build_embedder("resnet50")
    embedder, init = build_embedder("resnet50", embedding_size=32, fallback="random")
    assert "random init (fallback allowed" in init.weights and init.sha256 is None
    assert embedder.eval()(torch.zeros(2, 3, 112, 112)).shape == (2, 32)
    with pytest.raises(ValueError, match="fallback"):
        build_embedder("resnet50", fallback="imagenet-ish")


def test_weights_whose_sha256_does_not_match_their_name_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A mirror or hub-cache copy of torchvision's file is hash-checked before torch.load reads it; no fallback hides it."""
    monkeypatch.setenv("LQFACE_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *args, **kwargs: pytest.fail("a local copy must not be downloaded again"))
    loaded: list[Path] = []
    monkeypatch.setattr(backbones, "_load_state", lambda path: loaded.append(path) or {})
    for folder in (tmp_path / "mirror" / "models" / "torchvision", tmp_path / "hub" / "checkpoints"):
        folder.mkdir(parents=True)
        torch.save({"weight": torch.zeros(1)}, folder / "resnet50-11ad3fa6.pth")
        with pytest.raises(ChecksumMismatch, match=r"resnet50-11ad3fa6\.pth has sha256 [0-9a-f]{64}.*starting with 11ad3fa6.*Delete it"):
            build_embedder("resnet50", fallback="random")
        (folder / "resnet50-11ad3fa6.pth").unlink()
    assert loaded == []


def test_a_download_with_the_wrong_hash_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """torch.hub's download checks the sha256 prefix in the file name; a mismatch stops the build."""
    monkeypatch.setenv("LQFACE_MIRROR", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    prefixes = []

    def tampered(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        prefixes.append(hash_prefix)
        raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{"0" * 64}")')

    monkeypatch.setattr(torch.hub, "download_url_to_file", tampered)
    with pytest.raises(ChecksumMismatch, match="wrong sha256"):
        build_embedder("resnet50", fallback="random")
    assert prefixes == ["11ad3fa6"]


def test_mobilenet_v2_loads_packaged_imagenet_weights_strictly() -> None:
    embedder, init = build_embedder("mobilenet_v2", embedding_size=64)
    assert init.sha256 and init.sha256.startswith("b0353104")
    assert embedder.eval()(torch.zeros(2, 3, 112, 112)).shape == (2, 64)


def test_export_matches_torch_and_loads_as_a_recogniser(tmp_path: Path) -> None:
    embedder, _ = build_embedder("mobilenet_v2", embedding_size=64)
    target = export_onnx(embedder.eval(), tmp_path / "model.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temporary files left behind
    assert max_export_error(embedder, target, crops(5)) < 1e-4
    embeddings = Recogniser(target, EMBEDDER_PREPROCESS, providers=["CPUExecutionProvider"]).embed(crops(3))
    assert embeddings.shape == (3, 64) and np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)


@pytest.mark.usefixtures("mirror")
def test_pack_recogniser_matches_onnx_runtime_and_every_tensor_learns() -> None:
    pack = offline_pack()
    embedder, init = build_embedder("pack", pack=pack)
    assert embedder.embedding_size == 128 and init.sha256 == pack.recogniser.sha256
    inputs = EMBEDDER_PREPROCESS.apply(crops(4))
    session = ort.InferenceSession(str(pack.recogniser.path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: inputs})[0]
    with torch.no_grad():
        actual = embedder.eval()(torch.from_numpy(inputs)).numpy()
    assert np.abs(actual - expected).max() < 1e-4 * np.abs(expected).max()
    embedder.train()
    embedder(torch.from_numpy(inputs[:2])).pow(2).sum().backward()
    grads = [p.grad for p in embedder.parameters()]
    assert len(grads) == 60 + 27  # SFace's weight tensors and its 27 PReLU slopes
    assert len([name for name, _ in embedder.named_parameters() if ".initializers." in name]) == 27  # onnx2torch kept them as buffers
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize(
    ("backbone", "where"), [("inception_resnet_v1", "models/facenet/20180402-114759-vggface2.pt"), ("seresnet50", "models/timm/seresnet50_a1_0-ffa00869.pth")]
)
def test_new_families_say_where_their_weights_go_and_fall_back_only_when_allowed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, backbone: str, where: str
) -> None:
    monkeypatch.setenv("LQFACE_MIRROR", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    pins = []

    def offline(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        pins.append(hash_prefix)
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ResourceUnavailable, match=rf"{where}.*fallback='random'"):
        build_embedder(backbone)
    assert pins == [backbones.FACENET_VGGFACE2.sha256 if backbone == "inception_resnet_v1" else "ffa00869"]
    with pytest.raises(ValueError, match="resnet50 only"):
        build_embedder(backbone, fallback="mobilenet_v2")
    embedder, init = build_embedder(backbone, embedding_size=32, fallback="random")
    assert init.backbone == backbone and "random init (fallback allowed" in init.weights and init.sha256 is None
    target = export_onnx(embedder.eval(), tmp_path / "model.onnx")
    assert max_export_error(embedder, target, crops(3)) < 1e-4
    assert Recogniser(target, EMBEDDER_PREPROCESS, providers=["CPUExecutionProvider"]).embed(crops(2)).shape == (2, 32)


def test_a_local_facenet_file_is_checked_in_full_before_it_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "models" / "facenet"
    folder.mkdir(parents=True)
    torch.save({"weight": torch.zeros(1)}, folder / "20180402-114759-vggface2.pt")
    monkeypatch.setenv("LQFACE_MIRROR", str(tmp_path))
    monkeypatch.setattr(backbones, "_load_state", lambda path: pytest.fail("an unverified file must not be read"))
    with pytest.raises(ChecksumMismatch, match=r"vggface2\.pt has sha256 [0-9a-f]{64}.*starting with 281cebca8662831a"):
        build_embedder("inception_resnet_v1", fallback="random")
