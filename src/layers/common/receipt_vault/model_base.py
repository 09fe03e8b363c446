"""Base classes for the pydantic models of the layer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class VaultModel(BaseModel):
    """Validators are built on first use (`defer_build`): a function serving several routes
    pays at cold start only for the models of the route it serves."""

    model_config = ConfigDict(defer_build=True)


class InputModel(VaultModel):
    """A request body or query: unknown fields are errors, never silently dropped."""

    model_config = ConfigDict(extra="forbid")
