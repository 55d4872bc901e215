"""imagejobs: an image processing job manager for store-visit photos."""

__version__ = "0.1.0"
