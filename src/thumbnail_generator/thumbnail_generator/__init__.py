"""thumbnail-generator: a 200x300 JPEG for every original uploaded under users/*/receipts/*/original/.

The function's code: `app` is the handler (Handler: thumbnail_generator.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
