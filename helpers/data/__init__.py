"""Stage 1, data (notebook 01): from a folder of photos to aligned, split, degraded crops.

datasets.py   named datasets (LFW, Extended Yale B, ORL) and user folders
walk.py       list a dataset folder safely: no loops, no special files opened
scan.py       decode every file, say what is wrong with each bad one
split.py      seeded identity-disjoint (or labelled closed-set) splits
faces.py      SCRFD detection and 5-point alignment
crops.py      aligned crops for the manifest's rows, cached and resumable
degrade.py    synthetic low quality, deterministic per image
manifest.py   manifest.csv and source.json: the one definition of both
levels.py     levels.json and the lq/ images: the one definition of both
"""
