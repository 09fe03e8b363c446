"""sync-handler: POST /sync/pull, /sync/push and /sync/full for the offline-first app.

The function's code: `app` is the handler (Handler: sync_handler.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
