"""Small, reproducible experiments whose outputs (JSON and figures) the site shows.

Run one with `make experiments` or `.venv/bin/python -m experiments.<name>`; each writes its
results under docs/assets/generated/, which is committed.
"""
