"""The plugin's version (metadata.txt and the CHANGELOG say the same; a test checks)."""

__version__ = "0.1.0"
