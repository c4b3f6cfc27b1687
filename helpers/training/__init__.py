"""Fine-tuning (notebook 03): one configuration, one entry point.

config.py        TrainConfig, plain self-validating data
augment.py       geometric and colour augmentation of the HQ crops, seeded
lq_chain.py      the realistic training degradation: a shuffled second-order chain, unlike the evaluation presets
alignment_noise.py  landmark errors measured end to end on degraded train photos, replayed as alignment jitter
acquired_crops.py   train photos degraded whole, their faces found and aligned end to end: the other way to train on misalignment
data.py          crops degraded on the fly, identity batches, the val set, teacher embeddings
device_input.py  the same batches built on the training device (kornia)
validation.py    per-epoch val metrics and the choice of the best epoch
distributed.py   torchrun / DDP place and device
loop.py          train(): the loop, checkpoints and exact resume
__main__.py      python -m helpers.training config.json (one process, or many under torchrun)
"""

from helpers.training.config import TrainConfig
from helpers.training.loop import train

__all__ = ["TrainConfig", "train"]
