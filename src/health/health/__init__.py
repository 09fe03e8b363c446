"""GET /health: liveness for monitors and clients; the only route without auth.

The function's code: `app` is the handler (Handler: health.app.lambda_handler).
"""
