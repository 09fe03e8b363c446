"""CloudFormation custom resource for an SNS mobile push platform application (FCM or APNs).

The function's code: `app` is the handler (Handler: platform_application.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
