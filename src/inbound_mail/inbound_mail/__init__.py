"""inbound-mail: each message SES receives at a user's private address becomes receipts.

The function's code: `app` is the handler (Handler: inbound_mail.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
