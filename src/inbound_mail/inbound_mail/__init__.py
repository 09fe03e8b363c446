"""inbound-mail: each message SES receives at a user's private address becomes receipts.

The function's code: `app` is the handler (Handler: inbound_mail.app.lambda_handler).
"""
