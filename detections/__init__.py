"""Pure detection: rules, SQL classification, redaction, the engine."""
