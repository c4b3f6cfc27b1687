"""Models: pretrained packs, recognisers and trainable embedders.

packs.py        model packs (detector + recogniser): buffalo_l, the offline pack, any folder
sface.py        OpenCV Zoo's SFace made runnable (int8 -> float32)
recognisers.py  ONNX recognisers: crops in, L2-normalised embeddings out
dlib_resnet.py  dlib's ResNet v1 recogniser on its own chip alignment
cards.py        model cards: any ONNX recogniser described in YAML
zoo.py          the recognisers notebook 02 can score, by name
backbones.py    trainable embedders: ResNet-50, MobileNetV2, SE-ResNet50, FaceNet, a pack's own
losses.py       ArcFace, CosFace, AdaFace, softmax heads; triplet; distillation
checkpoints.py  safetensors + JSON checkpoints, exact resume
export.py       ONNX export of a trained embedder
"""
