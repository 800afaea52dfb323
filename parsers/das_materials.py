"""An Encryption SDK materials manager that decodes the message's signature key in native code.

A signed DAS message names its ECDSA public key in the encryption context as a compressed point
(SEC 1 §2.3.3). The ESDK's DefaultCryptoMaterialsManager decompresses it in pure Python (two
modular exponentiations: ~0.3 ms a record, a quarter of its decryption); `cryptography` does the
same natively. Everything else - unwrapping the data key, checking the commitment policy, and
verifying the signature over the whole message - stays the ESDK's own. A point this code does not
decode (not the curve's compressed size, or refused) goes to the ESDK's decoding, with its errors.
"""

from __future__ import annotations

import base64
import binascii

from aws_encryption_sdk.identifiers import Algorithm
from aws_encryption_sdk.materials_managers.default import DefaultCryptoMaterialsManager
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_COMPRESSED_PREFIXES = (2, 3)  # SEC 1: 0x02 even y, 0x03 odd y
# The encryption-context key reserved for the signature key by the message format (not imported from
# the ESDK's internal modules, which may move; test_das_materials.py checks it equals the ESDK's own).
ENCODED_SIGNER_KEY = "aws-crypto-public-key"


class NativePointMaterialsManager(DefaultCryptoMaterialsManager):  # type: ignore[misc]  # ESDK: no hints
    """The default materials manager, loading the verification key with cryptography's point decoder."""

    def _load_verification_key_from_encryption_context(
        self, algorithm: Algorithm, encryption_context: dict[str, str]
    ) -> bytes | None:
        """The DER verification key of a signed suite (None for an unsigned one), as the ESDK's own."""
        encoded = encryption_context.get(ENCODED_SIGNER_KEY)
        curve_type = algorithm.signing_algorithm_info
        if encoded is not None and curve_type is not None:
            key = _native_public_key(curve_type(), encoded)
            if key is not None:
                return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        # Unsigned suites, a missing or unexpected key: the ESDK's checks, decoding and errors.
        verification_key: bytes | None = super()._load_verification_key_from_encryption_context(
            algorithm, encryption_context
        )
        return verification_key


def _native_public_key(curve: ec.EllipticCurve, encoded: str) -> ec.EllipticCurvePublicKey | None:
    """The public key of a base64 compressed point of the curve's size; None when it is anything else."""
    try:
        point = base64.b64decode(encoded)  # as lenient as the ESDK's own decoding of the field
    except (binascii.Error, ValueError):
        return None
    if len(point) != 1 + (curve.key_size + 7) // 8 or point[0] not in _COMPRESSED_PREFIXES:
        return None
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError:  # not on the curve: let the ESDK refuse it in its own words
        return None
