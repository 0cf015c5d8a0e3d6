"""Label sets of the built-in datasets, indexed by label id."""

GALAXY10_DECALS_CLASSES: list[str] = [
    "disturbed",
    "merging",
    "round smooth",
    "in-between round smooth",
    "cigar shaped smooth",
    "barred spiral",
    "unbarred tight spiral",
    "unbarred loose spiral",
    "edge-on without bulge",
    "edge-on with bulge",
]

GALAXY_MNIST_CLASSES: list[str] = [
    "smooth round",
    "smooth cigar",
    "edge-on disk",
    "unbarred spiral",
]

SPACENET_CLASSES: list[str] = [
    "asteroid",
    "black hole",
    "comet",
    "constellation",
    "galaxy",
    "nebula",
    "planet",
    "star",
]
