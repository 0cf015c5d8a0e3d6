"""Survey sources: each turns an upstream dataset into a stream of :class:`RawItem`."""

from cosmoalign.sources.base import UNLABELLED, RawItem, Source

__all__ = ["UNLABELLED", "RawItem", "Source"]
