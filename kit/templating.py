"""
HTML pages from Jinja2 templates, escaped by default.

The kit writes no HTML by joining strings: a page is a template under ``kit/templates/pages`` (a report
section one under ``kit/templates/sections``, named ``sections/NAME.html.j2``) rendered with :func:`render`,
and every value put into it is escaped unless the code marks it as markup it built from escaped parts
(``markupsafe.Markup``). Text from data (names, plans, segments, file names, error messages) therefore can never
become markup on the way to a page.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGES = TEMPLATES / "pages"


@cache
def environment() -> jinja2.Environment:
    """Return the one template environment: autoescape on, undefined names an error, blocks trimmed."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader([PAGES, TEMPLATES]), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)  # fmt: skip


def render(name: str, **values) -> str:
    """
    Render the page template NAME with VALUES, every value escaped.

    >>> "&lt;b&gt;" in render("batch_index.html.j2", title="<b>", summary="", reports=[], failures=[],
    ...                       rate_names=[])
    True
    """
    return environment().get_template(name).render(**values)
