"""The data half of the graph: raw survey images, curation and class balancing."""
