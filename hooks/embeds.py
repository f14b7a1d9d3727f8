"""mkdocs hook: an embedded snippet (`--8<-- "path:section"`) whose file or section
is missing stops the build with one line that names the page, its line and the
path, instead of pymdownx.snippets' traceback."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.exceptions import PluginError

EMBED = re.compile(r"""--8<--\s+(["'])([^"'\s]+)\1""")


def _problem(reference: str, bases: list[Path]) -> str | None:
    """What is wrong with one reference, or None if it resolves."""
    path, _, section = reference.partition(":")
    found = next((b / path for b in bases if (b / path).is_file()), None)
    if found is None:
        return f"embedded snippet {reference!r}: no file {path}"
    if section and not re.fullmatch(r"[\d:,-]*", section):  # a name, not lines
        if f"[start:{section}]" not in found.read_text(encoding="utf-8"):
            return (
                f"embedded snippet {reference!r}: {path} has no section {section!r}"
            )
    return None


def _explain(page, config, error: Exception) -> str:
    options = config.mdx_configs.get("pymdownx.snippets", {})
    base = options.get("base_path", ["."])
    root = Path(config.config_file_path).parent
    bases = [root / b for b in ([base] if isinstance(base, str) else base)]
    lines = Path(page.file.abs_src_path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        for match in EMBED.finditer(line):
            problem = _problem(match.group(2), bases)
            if problem:
                return f"docs/{page.file.src_uri}:{number}: {problem}"
    return f"docs/{page.file.src_uri}: {error}"


def on_pre_page(page, config, files):
    from pymdownx.snippets import SnippetMissingError

    render = page.render

    def checked(config, files):
        try:
            return render(config, files)
        except SnippetMissingError as error:
            raise PluginError(_explain(page, config, error)) from None

    page.render = checked
    return page
