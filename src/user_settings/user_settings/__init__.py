"""user-settings: GET and PUT /user/settings, POST /user/devices, DELETE /user/devices/{deviceId}.

The function's code: `app` is the handler (Handler: user_settings.app.lambda_handler).
"""
