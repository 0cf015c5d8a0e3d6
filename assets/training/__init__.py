"""Training stage: the joined training pairs and one model asset per recipe."""
