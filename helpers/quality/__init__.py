"""Face image quality inside the run (issue 32): measures per image, and how they are judged.

measures.py  image-based measures on the aligned crop or the landmarks: inter-eye distance, sharpness, exposure, contrast, JPEG blocking
edc.py       error-versus-discard curves and pAUC-EDC against the theoretical best
"""
