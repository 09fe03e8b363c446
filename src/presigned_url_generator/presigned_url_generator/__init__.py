"""presigned-url-generator: pre-signed upload and download URLs for a receipt's images.

The function's code: `app` is the handler (Handler: presigned_url_generator.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
