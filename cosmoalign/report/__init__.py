"""Evaluation reports: a self-contained HTML page and a markdown table of key numbers."""

from cosmoalign.report.key_numbers import key_numbers_markdown
from cosmoalign.report.page import GalleryQuery, Neighbour, render_report, write_report

__all__ = ["GalleryQuery", "Neighbour", "key_numbers_markdown", "render_report", "write_report"]
