"""user-deletion: POST /user/account/deletion-token, then DELETE /user/account (GDPR erasure).

The function's code: `app` is the handler (Handler: user_deletion.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
