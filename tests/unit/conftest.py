"""Hypothesis on a noisy, shared machine: properties are judged by their examples, not by time
(a loaded CI worker makes data generation slow, which says nothing about the code)."""

from hypothesis import HealthCheck, settings

settings.register_profile("shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-machine")
