"""Small display helpers shared by the views: tables, text and figures as plain HTML and
PNG (no Markdown: solara's Markdown would fetch KaTeX, which is not served locally)."""

from __future__ import annotations

import html

import pandas as pd
import solara

__all__ = ["CSS", "figure", "heading", "html_table", "table", "text"]

CSS = """
.woonsim table { border-collapse: collapse; font-size: 12px; margin: 4px 0 10px 0; }
.woonsim th, .woonsim td { padding: 2px 6px; border-bottom: 1px solid #ddd; text-align: right; }
.woonsim th { background: #f4f4f4; vertical-align: bottom; }
.woonsim tbody th { text-align: left; white-space: nowrap; }
.woonsim p { margin: 2px 0 8px 0; font-size: 13px; }
.woonsim h3 { margin: 14px 0 4px 0; font-size: 16px; }
"""


def html_table(df: pd.DataFrame, css_class: str, digits: int = 2, index: bool = True) -> str:
    """A table as HTML: numbers rounded, NaN as n/a, text escaped."""
    return df.to_html(
        classes=css_class,
        border=0,
        na_rep="n/a",
        index=index,
        float_format=lambda x: f"{x:,.{digits}f}",
    )


def table(df: pd.DataFrame, css_class: str, digits: int = 2, index: bool = True) -> None:
    solara.HTML(tag="div", unsafe_innerHTML=html_table(df, css_class, digits, index))


def heading(title: str) -> None:
    solara.HTML(tag="h3", unsafe_innerHTML=html.escape(title))


def text(words: str, css_class: str = "") -> None:
    """A paragraph of plain text (escaped)."""
    solara.HTML(
        tag="p", unsafe_innerHTML=html.escape(words), classes=[css_class] if css_class else []
    )


def figure(fig, name: str) -> None:
    """A matplotlib figure as a PNG in a box of class `woonsim-figure-NAME` (nothing for
    None)."""
    if fig is not None:
        with solara.Div(classes=[f"woonsim-figure-{name}"]):
            solara.FigureMatplotlib(fig, format="png", dpi=90)
