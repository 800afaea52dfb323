"""DynamoDB adapters of the detection ports (state, suppression, delivery ledger) and the table schema."""
