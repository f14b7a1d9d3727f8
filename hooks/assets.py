"""mkdocs hook: serve KaTeX (installed from the npm registry by scripts/setup) from
the site itself.

The files are added from node_modules/ at build time, so no copy is committed and no
CDN is asked.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

KATEX_DIST = (
    Path(__file__).resolve().parent.parent / "node_modules" / "katex" / "dist"
)
KATEX_FILES = ["katex.min.js", "katex.min.css", "contrib/auto-render.min.js"]


def on_files(files: Files, config) -> Files:
    if not (KATEX_DIST / "katex.min.js").is_file():
        raise PluginError(
            f"KaTeX is missing at {KATEX_DIST}; run scripts/setup "
            "(or `make serve` / `make test`)"
        )
    wanted = [KATEX_DIST / name for name in KATEX_FILES] + sorted(
        (KATEX_DIST / "fonts").glob("*.woff2")
    )
    for path in wanted:
        uri = "assets/katex/" + path.relative_to(KATEX_DIST).as_posix()
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


# Material's bundle can fetch two scripts from unpkg.com as fallbacks: a
# ResizeObserver polyfill (never needed by a current browser) and Mermaid (only when
# a page has a mermaid diagram, and this site draws its diagrams at build time).
# nbconvert's notebook template likewise imports Mermaid from cdnjs when a notebook
# has a diagram (ours have none). Point all of them at an empty inline script so
# that viewing the site can never contact a third-party host. Source maps are for
# debugging Material itself; they are dropped rather than shipped.
THIRD_PARTY_SCRIPTS = re.compile(
    r"https://(?:unpkg\.com|cdnjs\.cloudflare\.com)/[A-Za-z0-9@./_-]+"
)


def on_post_page(output: str, page, config) -> str:
    return THIRD_PARTY_SCRIPTS.sub("data:text/javascript,", output)


SOURCE_MAP_COMMENT = re.compile(r"\n?//# sourceMappingURL=\S+\s*$")


def on_post_build(config) -> None:
    for path in Path(config.site_dir, "assets").rglob("*.map"):
        path.unlink()
    for path in Path(config.site_dir, "assets").rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        patched = SOURCE_MAP_COMMENT.sub(
            "\n", THIRD_PARTY_SCRIPTS.sub("data:text/javascript,", text)
        )
        if patched != text:
            path.write_text(patched, encoding="utf-8")
