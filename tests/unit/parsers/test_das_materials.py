"""The native-point materials manager loads exactly the verification keys (and errors) of the ESDK's own."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest
from aws_encryption_sdk.identifiers import Algorithm
from aws_encryption_sdk.internal.crypto.elliptic_curve import (
    _ecc_encode_compressed_point,
    generate_ecc_signing_key,
)
from aws_encryption_sdk.internal.defaults import ENCODED_SIGNER_KEY
from aws_encryption_sdk.materials_managers.default import DefaultCryptoMaterialsManager
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from parsers.das_decrypt import DataKeyProvider
from parsers.das_materials import NativePointMaterialsManager

SIGNED = [
    Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
    Algorithm.AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256,
]
UNSIGNED = Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA256


def _managers() -> tuple[NativePointMaterialsManager, DefaultCryptoMaterialsManager]:
    """Ours and the ESDK's default, over the same DAS data key."""
    provider = DataKeyProvider(os.urandom(32))
    return (
        NativePointMaterialsManager(master_key_provider=provider),
        DefaultCryptoMaterialsManager(master_key_provider=provider),
    )


def _outcome(
    load: Callable[[Algorithm, dict[str, str]], object], algorithm: Algorithm, context: dict[str, str]
) -> object:
    """What loading the verification key gives: the key bytes, or the type of the exception raised."""
    try:
        return load(algorithm, context)
    except Exception as exc:  # noqa: BLE001 - the exception type is what is compared
        return type(exc)


def _same_outcome(algorithm: Algorithm, context: dict[str, str]) -> object:
    """Both managers' outcome, asserted equal."""
    native, default = _managers()
    ours = _outcome(native._load_verification_key_from_encryption_context, algorithm, context)
    theirs = _outcome(default._load_verification_key_from_encryption_context, algorithm, context)
    assert ours == theirs
    return ours


def _signer_point(algorithm: Algorithm) -> bytes:
    """The compressed public point the ESDK writes into a signed message's encryption context."""
    private_key = generate_ecc_signing_key(algorithm)
    point: bytes = _ecc_encode_compressed_point(private_key)
    return point


@pytest.mark.parametrize("algorithm", SIGNED, ids=lambda a: a.name)
def test_signed_messages_get_the_same_verification_key(algorithm: Algorithm) -> None:
    # GIVEN 40 signing keys (both y parities among them) encoded as the ESDK encodes them
    points = [_signer_point(algorithm) for _ in range(40)]
    # WHEN each manager loads the verification key from the encryption context
    keys = [_same_outcome(algorithm, {ENCODED_SIGNER_KEY: base64.b64encode(p).decode()}) for p in points]
    # THEN both give the same DER key every time (asserted inside), for both parities
    assert all(isinstance(key, bytes) for key in keys)
    assert {p[0] for p in points} == {2, 3}


def test_unsigned_suites_and_missing_or_unexpected_keys_behave_as_the_esdk() -> None:
    # GIVEN an unsigned suite with and without a key, and a signed suite without one
    point = base64.b64encode(_signer_point(SIGNED[0])).decode()
    # WHEN each manager loads the verification key
    # THEN both agree: None, or the same SerializationError
    assert _same_outcome(UNSIGNED, {}) is None
    assert _same_outcome(UNSIGNED, {ENCODED_SIGNER_KEY: point}) is not None
    assert _same_outcome(SIGNED[0], {"other": "x"}) is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p[:1] + bytes(len(p) - 1),  # x = 0: not on the curve
        lambda p: bytes([p[0]]) + b"\xff" * (len(p) - 1),  # x beyond the field prime
        lambda p: b"\x04" + p[1:],  # an uncompressed-point prefix on a compressed body
        lambda p: p[:1] + p[2:],  # a byte short
        lambda p: p + b"\x00",  # a byte long
        lambda p: b"",  # empty: the point at infinity
    ],
    ids=["off-curve", "x-too-large", "wrong-prefix", "short", "long", "empty"],
)
def test_odd_points_give_what_the_esdk_gives(mangle: Callable[[bytes], bytes]) -> None:
    # GIVEN a signed suite's context whose public point was tampered with
    point = mangle(_signer_point(SIGNED[0]))
    # WHEN each manager loads the verification key
    # THEN both give the same key, or raise the same kind of error
    _same_outcome(SIGNED[0], {ENCODED_SIGNER_KEY: base64.b64encode(point).decode()})


def test_a_key_that_is_not_base64_is_left_to_the_esdk() -> None:
    # GIVEN a context whose public key is not base64 text
    # WHEN each manager loads the verification key
    # THEN both fail alike
    assert _same_outcome(SIGNED[0], {ENCODED_SIGNER_KEY: "not base64!"}) is not None


def test_the_native_decoder_is_what_runs_for_a_well_formed_point() -> None:
    # GIVEN a well-formed P-384 point
    private_key = generate_ecc_signing_key(SIGNED[0])
    point = _ecc_encode_compressed_point(private_key)
    native, _default = _managers()
    # WHEN loading it
    der = native._load_verification_key_from_encryption_context(
        SIGNED[0], {ENCODED_SIGNER_KEY: base64.b64encode(point).decode()}
    )
    # THEN it is the signer's own public key
    public = private_key.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert der == public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def test_the_signature_key_name_is_the_encryption_sdks_own() -> None:
    # GIVEN the context key this module reads and the ESDK's internal constant
    from aws_encryption_sdk.internal import defaults

    from parsers import das_materials

    # WHEN comparing them THEN they are the same (an ESDK upgrade that changed it fails here, not in Lambda)
    assert das_materials.ENCODED_SIGNER_KEY == defaults.ENCODED_SIGNER_KEY
