"""mkdocs hook: serve papers.json, the machine-readable index of the papers.

The index is built from refs/ and the pages it names by citations/paper_index.py;
its JSON Schema, refs/papers.schema.json, is served next to it.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

from citations.bib import BibError
from citations.paper_index import PaperIndexError, build_index, dumps


def on_files(files: Files, config) -> Files:
    root = Path(config.config_file_path).parent

    def url(page: str) -> str:
        file = files.get_file_from_path(page)
        if file is None:
            raise PaperIndexError(f"refs/papers.toml names {page!r}, not in docs/")
        return file.url

    try:
        index = build_index(root, docs=Path(config.docs_dir), url=url)
    except (BibError, PaperIndexError) as err:
        raise PluginError(f"papers.json: {err}") from err
    schema = (root / "refs" / "papers.schema.json").read_text(encoding="utf-8")
    files.append(File.generated(config, "papers.json", content=dumps(index)))
    files.append(File.generated(config, "papers.schema.json", content=schema))
    return files
