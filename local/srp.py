"""The server half of Amazon Cognito's SRP sign-in (USER_SRP_AUTH, then PASSWORD_VERIFIER).

Cognito uses SRP-6a over the 3072-bit group of RFC 5054 with g = 2, SHA-256, and a password
claim: an HMAC, keyed with a key derived (HKDF) from the shared secret S, over the pool's name,
the user's SRP id, the secret block and the client's timestamp. The numbers are hashed as the
clients hash them (amazon-cognito-identity-js's AuthenticationHelper, which pycognito's aws_srp.py
and Amplify Flutter's SrpHelper follow): as big-endian hex, with a leading zero byte when the high
bit is set, so that a value always reads as positive.

Locally the verifier is derived from the password moto keeps, when a sign-in starts; a deployed
pool stores only the verifier. What the client sees is the same.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
_HKDF_INFO = b"Caldera Derived Key\x01"


def padded_hex(value: int) -> str:
    """`value` as the clients hash it: even-length hex, with 00 in front when the first digit
    is 8 or more."""
    text = f"{value:x}"
    if len(text) % 2:
        return "0" + text
    return "00" + text if text[0] in "89abcdef" else text


def _hash_hex(hex_text: str) -> int:
    return int(hashlib.sha256(bytes.fromhex(hex_text)).hexdigest(), 16)


K = _hash_hex(padded_hex(N) + padded_hex(G))


def new_salt() -> str:
    """16 random bytes whose first is 0x10 to 0x7f: no leading zero and no sign byte, so clients
    that pad the hex text (pycognito) and those that pad the number (Amplify) hash the same bytes."""
    first = 0x10 + secrets.randbelow(0x70)
    return f"{first:02x}{secrets.token_hex(15)}"


def password_verifier(pool_name: str, user_id: str, password: str, salt_hex: str) -> int:
    """v = g^x, x = H(salt | H(pool name | user id | ":" | password))."""
    identity = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).hexdigest()
    x = _hash_hex(padded_hex(int(salt_hex, 16)) + identity)
    return pow(G, x, N)


@dataclass(frozen=True)
class ServerChallenge:
    """What the server keeps between InitiateAuth and the password claim."""

    big_a: int
    small_b: int
    big_b: int
    verifier: int

    @classmethod
    def start(cls, big_a: int, verifier: int) -> ServerChallenge:
        """B = k·v + g^b. Raises ValueError for an A that is 0 mod N (SRP-6a's safety check)."""
        if big_a % N == 0:
            raise ValueError("SRP_A must not be zero mod N")
        while True:
            small_b = secrets.randbits(1024) % N
            big_b = (K * verifier + pow(G, small_b, N)) % N
            if big_b and _scrambler(big_a, big_b):
                return cls(big_a, small_b, big_b, verifier)

    def expected_claim(self, pool_name: str, user_id: str, secret_block: bytes, timestamp: str) -> bytes:
        """The PASSWORD_CLAIM_SIGNATURE (before base64) that only the right password produces."""
        u = _scrambler(self.big_a, self.big_b)
        shared = pow(self.big_a * pow(self.verifier, u, N), self.small_b, N)
        key = _hkdf(bytes.fromhex(padded_hex(shared)), bytes.fromhex(padded_hex(u)))
        message = pool_name.encode() + user_id.encode() + secret_block + timestamp.encode()
        return hmac.new(key, message, hashlib.sha256).digest()


def _scrambler(big_a: int, big_b: int) -> int:
    """u = H(A | B)."""
    return _hash_hex(padded_hex(big_a) + padded_hex(big_b))


def _hkdf(key_material: bytes, salt: bytes) -> bytes:
    """HKDF-SHA256 with Cognito's info string, first 16 bytes."""
    pseudo_random_key = hmac.new(salt, key_material, hashlib.sha256).digest()
    return hmac.new(pseudo_random_key, _HKDF_INFO, hashlib.sha256).digest()[:16]
