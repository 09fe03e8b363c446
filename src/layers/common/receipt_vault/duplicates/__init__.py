"""Duplicate receipts: fingerprints (pure), their store, and the detector that flags pairs."""
