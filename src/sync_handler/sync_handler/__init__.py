"""sync-handler: POST /sync/pull, /sync/push and /sync/full for the offline-first app.

The function's code: `app` is the handler (Handler: sync_handler.app.lambda_handler).
"""
