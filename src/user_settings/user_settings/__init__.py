"""user-settings: GET and PUT /user/settings, POST /user/devices, DELETE /user/devices/{deviceId}.

The function's code: `app` is the handler (Handler: user_settings.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
