"""Software-defined assets: one module per stage, thin wrappers around the core library."""
