"""Stage 2, models: pretrained packs and trainable embedders.

packs.py        model packs (detector + recogniser): buffalo_l, the offline pack, any folder
sface.py        OpenCV Zoo's SFace made runnable (int8 -> float32)
recognisers.py  ONNX recognisers: crops in, L2-normalised embeddings out
backbones.py    trainable embedders: ResNet-50, MobileNetV2, a pack's own recogniser
losses.py       ArcFace, CosFace, AdaFace, softmax heads; triplet; distillation
checkpoints.py  safetensors + JSON checkpoints, exact resume
export.py       ONNX export of a trained embedder
"""
