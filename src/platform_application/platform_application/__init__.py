"""CloudFormation custom resource for an SNS mobile push platform application (FCM or APNs).

The function's code: `app` is the handler (Handler: platform_application.app.lambda_handler).
"""
