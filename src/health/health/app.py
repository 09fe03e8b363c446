"""GET /health: liveness for monitors and clients; the only route without auth."""

from __future__ import annotations

from receipt_vault import __version__, init_phase
from receipt_vault.api import build_api, make_lambda_handler
from receipt_vault.observability import setup_observability
from receipt_vault.settings import ApiSettings, load_settings

settings = load_settings(ApiSettings)
observability = setup_observability()
app = build_api(settings, observability)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


lambda_handler = make_lambda_handler(app, observability)

init_phase.end()  # init is over: what it made is frozen, collecting resumes
