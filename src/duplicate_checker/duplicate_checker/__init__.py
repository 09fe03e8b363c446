"""duplicate-checker: flags possible duplicate receipts, from the table's stream of receipt changes.

The function's code: `app` is the handler (Handler: duplicate_checker.app.lambda_handler), and
`receipt_checks` what it does with one changed receipt.
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
