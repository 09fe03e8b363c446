"""thumbnail-generator: a 200x300 JPEG for every original uploaded under users/*/receipts/*/original/.

The function's code: `app` is the handler (Handler: thumbnail_generator.app.lambda_handler).
"""
