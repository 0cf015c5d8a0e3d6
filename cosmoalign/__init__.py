"""cosmoalign core library: survey sources, curation, balancing, models and evaluation.

Nothing in this package imports Dagster; the pipeline in ``pipeline/`` and ``assets/`` wraps it.
"""

__version__ = "0.1.0"
