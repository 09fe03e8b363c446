"""export-handler: builds the exports queued by POST /user/export (SQS, one job per message).

The function's code: `app` is the handler (Handler: export_handler.app.lambda_handler).
"""
