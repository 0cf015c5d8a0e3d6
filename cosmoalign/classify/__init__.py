"""Zero-shot labels: each image's probability of every label, from prompt-template ensembles
(:mod:`~cosmoalign.classify.zero_shot`). The labels to choose between
(:mod:`~cosmoalign.classify.label_choices`) import no model code, so the Dagster definitions
can name them cheaply."""
