"""The estimators, one module each, on one base (``CompletionModel``), with ``reg="auto"`` and what their files hold."""
