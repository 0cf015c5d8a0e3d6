"""Evaluation stage: base vs fine-tuned per recipe, and the report across recipes."""
