"""Where the workbench's five keypoints land in dlib's 150 px face chips, and how close its chips come to dlib's own path.

dlib cuts its recogniser's input with ``get_face_chip(photo, shape, 150, 0.25)`` around its own five
landmarks (eye corners, nose base); the workbench aligns on SCRFD's (eye centres, nose tip, mouth
corners). On every ``--step``-th LFW person's first photo where dlib's HOG detector finds exactly one
face, SCRFD's keypoints are mapped into dlib's chip (its rectangle, angle and size): their mean is the
template ``helpers.models.dlib_resnet.DLIB_CHIP`` carries. Then, on ``--check`` of those faces,
dlib's own descriptor (its detector, landmarks and chip) is compared with the workbench's: the chip
cut from the photo with that template, and the chip re-cut from the 112 px ArcFace crop, as notebook 02
does. Prints the template, its spread, and the cosine agreement (mean and minimum) of both paths.
Run: ``LQFACE_MIRROR=../shared python benchmarks/dlib_chip_template.py``.
"""

from __future__ import annotations

import argparse
import json
import math

import cv2
import dlib
import face_recognition_models
import numpy as np
from skimage.transform import SimilarityTransform

from helpers.core.sources import in_mirror
from helpers.data.faces import FaceDetector, align
from helpers.data.scan import load_rgb
from helpers.models.dlib_resnet import DLIB_CHIP, DlibRecogniser
from helpers.models.packs import mirror_detector
from helpers.models.recognisers import ChipTemplate

MODELS = f"{face_recognition_models.__path__[0]}/models"


def in_chip(points: np.ndarray, details: dlib.chip_details) -> np.ndarray:
    """``points`` (photo pixels) in the coordinates of the chip ``details`` describes."""
    box = details.rect
    centre = np.array([(box.left() + box.right()) / 2, (box.top() + box.bottom()) / 2])
    scale = details.cols / (box.right() - box.left())
    cos, sin = math.cos(details.angle), math.sin(details.angle)
    shifted = points - centre
    rotated = np.stack([cos * shifted[:, 0] + sin * shifted[:, 1], -sin * shifted[:, 0] + cos * shifted[:, 1]], axis=1)
    return rotated * scale + [(details.cols - 1) / 2, (details.rows - 1) / 2]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=3, help="every step-th LFW person (sorted by name) among the first 300")
    parser.add_argument("--check", type=int, default=60, help="faces on which the descriptors are compared")
    args = parser.parse_args()
    lfw = in_mirror("datasets/lfw/lfw-deepfunneled")
    if lfw is None:
        raise SystemExit("set LQFACE_MIRROR to a mirror holding datasets/lfw/lfw-deepfunneled")
    hog = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(f"{MODELS}/shape_predictor_5_face_landmarks.dat")
    net = dlib.face_recognition_model_v1(f"{MODELS}/dlib_face_recognition_resnet_model_v1.dat")
    scrfd = FaceDetector(mirror_detector("scrfd_2.5g"))
    faces = []
    for person in sorted(p for p in lfw.iterdir() if p.is_dir())[: 300 : args.step]:
        photo = load_rgb(person / f"{person.name}_0001.jpg")
        found, ours = hog(photo, 1), scrfd.detect(photo)
        if len(found) == 1 and ours is not None:
            shape = landmarks(photo, found[0])
            kps = np.reshape(ours.kps, (5, 2))
            faces.append((photo, shape, kps, in_chip(kps, dlib.get_face_chip_details(shape, DLIB_CHIP.size, 0.25))))
    points = np.stack([face[3] for face in faces])
    template = ChipTemplate("dlib", DLIB_CHIP.size, tuple(map(tuple, points.mean(axis=0).round(2))))
    recogniser = DlibRecogniser()
    direct, recut = [], []
    for photo, shape, kps, _ in faces[: args.check]:
        reference = np.asarray(net.compute_face_descriptor(photo, shape))
        matrix = SimilarityTransform.from_estimate(kps, np.asarray(template.points)).params[:2]
        chip = cv2.warpAffine(photo, matrix, (template.size, template.size))
        direct.append(cosine(reference, recogniser.describe_chips(chip[None])[0]))
        recut.append(cosine(reference, recogniser.describe_chips(template.from_arcface(align(photo, tuple(kps.ravel()))[None]))[0]))
    print(
        json.dumps(
            {
                "faces": len(faces),
                "template": template.points,
                "shipped_template": DLIB_CHIP.points,
                "spread_px": points.std(axis=0).round(2).tolist(),
                "checked": len(direct),
                "cosine_to_dlib_chip_from_photo": {"mean": round(float(np.mean(direct)), 4), "min": round(float(np.min(direct)), 4)},
                "cosine_to_dlib_chip_from_112px_crop": {"mean": round(float(np.mean(recut)), 4), "min": round(float(np.min(recut)), 4)},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
