"""Finding → delivered alert: routing, redaction, rendering (pure) and transports (SNS, Slack)."""
