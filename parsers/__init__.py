"""Pure parsers: transport envelopes and audit-log dialects → AuditEvent."""
