"""receipt-crud: the seven /receipts routes. Business rules live in the common layer.

The function's code: `app` is the handler (Handler: receipt_crud.app.lambda_handler).
"""
