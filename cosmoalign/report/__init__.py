"""Evaluation reports: a self-contained HTML page (:mod:`~cosmoalign.report.page`, with the
plots of :mod:`~cosmoalign.report.plots`) and a markdown table of key numbers
(:mod:`~cosmoalign.report.key_numbers`).

The package imports none of them, so that reading key numbers (the model card, in every training
process) does not load matplotlib and scikit-learn."""
