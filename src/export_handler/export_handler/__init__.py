"""export-handler: builds the exports queued by POST /user/export (SQS, one job per message).

The function's code: `app` is the handler (Handler: export_handler.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
