"""warranty-checker: daily at 08:00 UTC, push reminders for warranties about to end.

The function's code: `app` is the handler (Handler: warranty_checker.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
