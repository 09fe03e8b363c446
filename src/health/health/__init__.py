"""GET /health: liveness for monitors and clients; the only route without auth.

The function's code: `app` is the handler (Handler: health.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
