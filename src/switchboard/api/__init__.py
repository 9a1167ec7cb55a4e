"""Thin HTTP handlers: read bytes, authenticate, decode with the inbound dialect, call the
pipeline, encode the reply."""
