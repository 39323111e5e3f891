"""moviegen: an open implementation of Meta's Movie Gen (arXiv 2410.13720).

Importing the package does no work: models, presets and the CLI live in submodules.
"""

__version__ = "0.1.0"
