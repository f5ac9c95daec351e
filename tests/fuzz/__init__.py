"""Fuzz targets over pinesh's pure parsers, one module per family (see docs/security.md)."""
