"""LQFace Workbench: face recognition on low-quality images.

All logic lives in this package; the numbered notebooks in ``notebooks/`` only
set parameters, call into it, plot and explain.
"""

__version__ = "0.1.0"
