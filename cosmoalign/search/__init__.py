"""Use an aligned model on a survey: similarity and text search over a lake partition's indexed
embeddings (Lance, IVF-PQ) or any folder of images (through a content-keyed cache)."""

from cosmoalign.schema import EMBEDDINGS_TABLE
from cosmoalign.search.folder import FolderEmbeddings, embed_folder, render_file
from cosmoalign.search.index import EmbeddingIndex, IndexSummary
from cosmoalign.search.partition import embed_partition

__all__ = [
    "EMBEDDINGS_TABLE",
    "EmbeddingIndex",
    "FolderEmbeddings",
    "IndexSummary",
    "embed_folder",
    "embed_partition",
    "render_file",
]
