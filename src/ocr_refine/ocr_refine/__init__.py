"""ocr-refine: POST /receipts/{receiptId}/refine turns OCR text into structured receipt data.

The function's code: `app` is the handler (Handler: ocr_refine.app.lambda_handler).
"""
