"""The pipeline (`lqface run`): configs, notebook parameter schemas, run folders, execution, provenance, the README's headline.

config.py      YAML configs: extends, defaults, steps, split seeds; checked before anything runs
parameters.py  each notebook's parameters as a schema, checked by the pipeline and the notebook
folders.py     run folders: their format, and how runs are found, started and resumed
provenance.py  package versions and the machine a run executed on
runner.py      run the notebooks in order with papermill, resumably
readme.py      the README headline and docs/demo.md from a finished run
cli.py         lqface run: its options and exit codes
__main__.py    python -m helpers.pipeline CONFIG (the same as lqface run)
"""
