"""The Activity Stream decryption error, importable without the Encryption SDK (cold start)."""

from __future__ import annotations


class DecryptError(Exception):
    """A record that could not be decrypted; `retryable` says whether trying again later can help."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        """Keep the reason (never plaintext or key material) and whether to retry."""
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
