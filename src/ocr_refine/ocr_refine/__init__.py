"""ocr-refine: POST /receipts/{receiptId}/refine turns OCR text into structured receipt data.

The function's code: `app` is the handler (Handler: ocr_refine.app.lambda_handler).
"""

from receipt_vault import init_phase

init_phase.begin()  # until app.py's last line: init runs without the collector (init_phase.py)
