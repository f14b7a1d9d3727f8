"""The bibliography tooling: load and validate ``refs/``, render citations, and the
cite CLI.

Site tooling, kept apart from the mechanisms in ``snippets/``: the mkdocs hooks, the
tests and ``python -m citations.cite`` (the ``plm-cite`` script) all read ``refs/``
through :func:`citations.bib.load`.
"""
