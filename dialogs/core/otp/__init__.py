"""Confirm an action with a one-time code: a sub-dialog started with a `CodeRequest`
that ends with a `CodeResult` (see `dialogs.core.otp.contract`)."""
