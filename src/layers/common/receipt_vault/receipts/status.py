"""Receipt statuses: a module of its own, so data access needs no models to know them."""

ACTIVE = "active"
RETURNED = "returned"
ARCHIVED = "archived"
DELETED = "deleted"
