"""Zero-shot labels: each image's probability of every label, from prompt-template ensembles
(:mod:`~cosmoalign.classify.zero_shot`); the label set itself (:mod:`~cosmoalign.classify.labels`)
imports no model code, so the Dagster definitions can name it cheaply."""
