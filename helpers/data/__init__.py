"""Data (notebook 01): from a folder of photos to aligned, split, degraded crops.

datasets.py         named datasets (LFW, Extended Yale B, ORL) and user folders
walk.py             list a dataset folder safely: no loops, no special files opened
scan.py             decode every file, say what is wrong with each bad one
split.py            seeded identity-disjoint (or labelled closed-set) splits
faces.py            SCRFD detection and 5-point alignment
mtcnn.py            MTCNN as a detector option (facenet-pytorch weights)
yunet.py            YuNet as a detector option (OpenCV Zoo)
detectors.py        one door to every detector file
crops.py            aligned crops for the manifest's rows, cached and resumable
chains.py           the realistic degradation chains (albumentations presets)
degrade.py          synthetic low quality, deterministic per image; the named levels
acquire.py          end to end: degrade the photo, then detect and align on it
detection_sweep.py  faces found as a photo is downscaled (make bench-detectors)
manifest.py         manifest.csv and source.json: the one definition of both
levels.py           levels.json and the lq/ images: the one definition of both
"""
