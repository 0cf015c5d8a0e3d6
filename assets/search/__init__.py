"""Search assets: indexed image embeddings and zero-shot labels of each dataset."""
