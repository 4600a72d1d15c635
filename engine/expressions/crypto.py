"""``encrypt(key, text)`` / ``decrypt(key, encrypted)``: AES-GCM, byte-compatible with Kestra.

The result is base64 of a 12-byte random IV followed by the ciphertext and
its 16-byte tag, as Kestra's ``EncryptionService`` writes it, so values
encrypted by either side decrypt on the other. ``key`` is either the name of
a key in Lanner's configuration, ``LANNER_ENCRYPTION_KEYS`` (``name=base64key``
pairs separated by commas), or a base64 AES key itself (16, 24 or 32 bytes),
which is how Kestra's function takes it (usually from ``secret('...')``).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from functools import lru_cache
from typing import Any

from engine.expressions.filters import FilterError

KEYS_ENV = "LANNER_ENCRYPTION_KEYS"
_IV = 12


@lru_cache(maxsize=8)
def _configured(raw: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for pair in raw.split(","):
        name, sep, value = pair.strip().partition("=")
        if sep and name.strip():
            keys[name.strip()] = value.strip()
    return keys


def _aes_key(key: object, what: str) -> bytes:
    if not isinstance(key, str) or not key:
        raise FilterError(f"{what}() needs a key: a name from {KEYS_ENV} or a base64 AES key")
    material = _configured(os.environ.get(KEYS_ENV, "")).get(key, key)
    try:
        raw = base64.b64decode(material + "=" * (-len(material) % 4), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) not in (16, 24, 32):
        raise FilterError(
            f"{what}(): the key is neither a name set in {KEYS_ENV} nor a base64 AES key of 16, 24 or 32 bytes"
        )
    return raw


def encrypt(key: object = None, plaintext: object = None) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # imported on first use

    if plaintext is None or plaintext == "":
        return plaintext
    aes = AESGCM(_aes_key(key, "encrypt"))
    iv = secrets.token_bytes(_IV)
    return base64.b64encode(iv + aes.encrypt(iv, str(plaintext).encode("utf-8"), None)).decode("ascii")


def decrypt(key: object = None, encrypted: object = None) -> Any:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if encrypted is None or encrypted == "":
        return encrypted
    aes = AESGCM(_aes_key(key, "decrypt"))
    try:
        data = base64.b64decode(str(encrypted), validate=True)
        return aes.decrypt(data[:_IV], data[_IV:], None).decode("utf-8")
    except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
        raise FilterError("decrypt(): the value was not encrypted with this key (or is not encrypt() output)") from None
