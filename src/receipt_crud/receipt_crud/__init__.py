"""receipt-crud: the seven /receipts routes. Business rules live in the common layer.

The function's code: `app` is the handler (Handler: receipt_crud.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
