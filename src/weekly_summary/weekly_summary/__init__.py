"""weekly-summary: Mondays at 09:00 UTC, a digest of each opted-in user's warranties.

The function's code: `app` is the handler (Handler: weekly_summary.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
