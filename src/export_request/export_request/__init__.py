"""export-request: POST /user/export queues an export; GET /user/export/{exportId} reports it.

The function's code: `app` is the handler (Handler: export_request.app.lambda_handler).
"""
