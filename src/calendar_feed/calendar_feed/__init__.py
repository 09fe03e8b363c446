"""calendar-feed: POST and DELETE /user/calendar-feed, and GET /calendar/{feedFile}.

The function's code: `app` is the handler (Handler: calendar_feed.app.lambda_handler).
"""
