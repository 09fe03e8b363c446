"""Receipts: models, rules, the table layout, the store and the use cases (service)."""
