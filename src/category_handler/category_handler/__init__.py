"""category-handler: GET and PUT /categories.

The function's code: `app` is the handler (Handler: category_handler.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
