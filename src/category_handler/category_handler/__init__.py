"""category-handler: GET and PUT /categories.

The function's code: `app` is the handler (Handler: category_handler.app.lambda_handler).
"""
