"""user-deletion: POST /user/account/deletion-token, then DELETE /user/account (GDPR erasure).

The function's code: `app` is the handler (Handler: user_deletion.app.lambda_handler).
"""
