"""weekly-summary: Mondays at 09:00 UTC, a digest of each opted-in user's warranties.

The function's code: `app` is the handler (Handler: weekly_summary.app.lambda_handler).
"""
