"""Closed-form predictions, one module per chapter."""
