"""Rulesets and legal instruments: the model, loading, validation and versions.

Knows nothing of durable_rules or HTTP.
"""
