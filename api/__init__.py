"""Entrypoints: the command line and the HTTP API. They translate; the domain decides."""
