"""duplicate-checker: flags possible duplicate receipts, from the table's stream of receipt changes.

The function's code: `app` is the handler (Handler: duplicate_checker.app.lambda_handler), and
`receipt_checks` what it does with one changed receipt.
"""
