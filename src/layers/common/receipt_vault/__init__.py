"""Receipt & Warranty Vault: code shared by every Lambda function (the common layer)."""

__version__ = "0.1.0"
