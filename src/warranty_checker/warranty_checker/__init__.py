"""warranty-checker: daily at 08:00 UTC, push reminders for warranties about to end.

The function's code: `app` is the handler (Handler: warranty_checker.app.lambda_handler).
"""
