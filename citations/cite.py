"""Print BibTeX from refs/: ``python -m citations.cite KEY [KEY ...]``,
``--category ID``, ``--all`` or ``--list``.

Unknown keys or categories exit with status 2 and a message on stderr; an unknown
key is named with at most three close matches.
"""

from __future__ import annotations

import argparse
import sys

from citations.bib import BibError, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m citations.cite",
        description="Print BibTeX from refs/.",
    )
    parser.add_argument("keys", nargs="*", help="citation keys, e.g. lan2020albert")
    parser.add_argument(
        "--category", help="every entry of one category (see --list)"
    )
    parser.add_argument("--all", action="store_true", help="the whole bibliography")
    parser.add_argument(
        "--list", action="store_true", help="list the keys and categories"
    )
    args = parser.parse_args(argv)
    if args.list and args.keys:
        parser.error("--list takes no keys (give the keys alone to print them)")
    modes = [bool(args.keys), bool(args.category), args.all, args.list]
    if sum(modes) != 1:
        parser.error("give citation keys, or --category ID, or --all, or --list")
    try:
        bib = load()
        if args.list:
            for key, paper in bib.papers.items():
                print(f"{key:24} {paper.name:24} {', '.join(paper.categories)}")
            return 0
        keys = (
            None
            if args.all
            else bib.keys_in(args.category)
            if args.category
            else args.keys
        )
        sys.stdout.write(bib.bibtex(keys))
    except BibError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
