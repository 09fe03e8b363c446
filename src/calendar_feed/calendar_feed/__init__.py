"""calendar-feed: POST and DELETE /user/calendar-feed, and GET /calendar/{feedFile}.

The function's code: `app` is the handler (Handler: calendar_feed.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
