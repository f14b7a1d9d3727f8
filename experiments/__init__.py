"""Small, reproducible experiments whose outputs (JSON and figures) the site shows.

    .venv/bin/python -m experiments                     # all (make experiments)
    .venv/bin/python -m experiments albert_sop          # one
    .venv/bin/python -m experiments albert_sop --quick  # a small slice, seconds

Each writes its results under docs/assets/generated/, which is committed; the
site build only reads them. `--quick` writes under .cache/experiments/ instead.
The pieces a new experiment is built from: `experiments.corpora` (real text),
`experiments.tokenizer` (local tokenizers), `experiments.models` (tiny
transformers models) and `experiments.harness` (the training loop).
"""
