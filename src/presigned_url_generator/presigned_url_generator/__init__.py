"""presigned-url-generator: pre-signed upload and download URLs for a receipt's images.

The function's code: `app` is the handler (Handler: presigned_url_generator.app.lambda_handler).
"""
