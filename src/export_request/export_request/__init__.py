"""export-request: POST /user/export queues an export; GET /user/export/{exportId} reports it.

The function's code: `app` is the handler (Handler: export_request.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
