"""Where each dataset comes from, and the SHA-256 values it must match.

Everything a loader trusts is pinned here, in the package source, so a run
never depends on checksum files found at runtime. The values were cross-checked
against public tables (tensorflow-datasets ``url_checksums``, torchvision, the
Git LFS pointers of the official EMNIST files) when this module was written.

Tests swap in their own fixtures by monkeypatching the module-level tables
(``MNIST_FILES``, ``EMNIST_MEMBERS``, ``EMNIST_MAPPINGS``, ``EMNIST_ZIP``,
``MNIST_MIRRORS``, ``EMNIST_ZIP_MIRRORS``). The loaders look the tables up at
call time, never a copy, and there is no argument to skip or replace them: a
production call always verifies against the values pinned here.
"""

from __future__ import annotations

import dataclasses

__all__ = [
    "EMNIST_MAPPINGS",
    "EMNIST_MEMBERS",
    "EMNIST_SPLITS",
    "EMNIST_ZIP",
    "EMNIST_ZIP_MIRRORS",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "FileSpec",
    "emnist_member",
]


@dataclasses.dataclass(frozen=True)
class FileSpec:
    """A pinned file.

    Attributes:
        sha256: Accepted SHA-256 hex digests of the file as stored (the
            ``.gz`` or ``.zip`` bytes). More than one when a byte-different but
            content-identical copy is known (a re-compressed gzip).
        raw_sha256: SHA-256 of the decompressed bytes, or ``None``. A ``.gz``
            whose wrapper differs from every ``sha256`` is still accepted when
            its decompressed content matches this.
        size: Size in bytes of the original file, for progress and messages.
    """

    sha256: tuple[str, ...]
    raw_sha256: str | None = None
    size: int | None = None


# MNIST mirrors: tensorflow-datasets' and torchvision's. LeCun's own page now
# refuses automated downloads, so it is not listed.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)

MNIST_FILES: dict[str, FileSpec] = {
    "train-images-idx3-ubyte.gz": FileSpec(
        sha256=(
            # the original gzip, as served by the mirrors
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            # the same content re-compressed with `gzip -9 -n` (the project's
            # shared copy, whose original wrapper was unobtainable offline)
            "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
        ),
        raw_sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        size=9_912_422,
    ),
    "train-labels-idx1-ubyte.gz": FileSpec(
        sha256=("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",),
        raw_sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        size=28_881,
    ),
    "t10k-images-idx3-ubyte.gz": FileSpec(
        sha256=("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",),
        raw_sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        size=1_648_877,
    ),
    "t10k-labels-idx1-ubyte.gz": FileSpec(
        sha256=("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",),
        raw_sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        size=4_542,
    ),
}

EMNIST_SPLITS: tuple[str, ...] = ("digits", "letters", "balanced", "byclass", "bymerge", "mnist")

# NIST's archive of all splits as gzip IDX (the URL current torchvision uses;
# the old www.itl.nist.gov host redirects here).
EMNIST_ZIP_MIRRORS: tuple[str, ...] = ("https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",)
EMNIST_ZIP = FileSpec(
    sha256=("fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e",),
    size=561_753_746,
)


def emnist_member(split: str, part: str) -> str:
    """File name of one EMNIST IDX member, e.g. ``emnist-letters-train-images-idx3-ubyte.gz``.

    Args:
        split: One of ``EMNIST_SPLITS``.
        part: ``train-images``, ``train-labels``, ``test-images`` or ``test-labels``.
    """
    kind = "idx3" if part.endswith("images") else "idx1"
    return f"emnist-{split}-{part}-{kind}-ubyte.gz"


def _emnist(sha: dict[str, str], raw: dict[str, str] | None = None) -> dict[str, FileSpec]:
    raw = raw or {}
    return {name: FileSpec((digest,), raw_sha256=raw.get(name)) for name, digest in sha.items()}


# Per-member SHA-256 of the official .gz files (from the Git LFS pointers of
# the official files, agreeing with an independent public table).
EMNIST_MEMBERS: dict[str, FileSpec] = _emnist(
    {
        "emnist-balanced-test-images-idx3-ubyte.gz": "117fc12b015e37ea98bfb2cbba3f77c3782c056cdbd219b87abfc8661d7135db",
        "emnist-balanced-test-labels-idx1-ubyte.gz": "a67cac948379b67270b9a4d0a01c8ec661598accf2f2b1964340b7c83cb175cd",
        "emnist-balanced-train-images-idx3-ubyte.gz": "74295e75e4e9fa2c102147460ee7eb763653d5132d883a84fb88932bfb8d2db4",
        "emnist-balanced-train-labels-idx1-ubyte.gz": "b46d41e5156a0a8aaaa4d18979fdd1588850fa8571018acffd5d93b325a7d6ed",
        "emnist-byclass-test-images-idx3-ubyte.gz": "5ec835bd5d5b1a66378a132e727fef20fe994b3cc666899befcca5ac766f50cd",
        "emnist-byclass-test-labels-idx1-ubyte.gz": "501e305eeeacb093b162592d80e8a2632040872360fa6d85cfcb2200d91ca92a",
        "emnist-byclass-train-images-idx3-ubyte.gz": "9e21987f03a6eb8b870187e785883ddad96947299587908f1a7ec2ca0f4be5f0",
        "emnist-byclass-train-labels-idx1-ubyte.gz": "f7ef403d48dc18a89dae0d83d11ee69cecb6e1c12c3a961d03712e495c02a8fa",
        "emnist-bymerge-test-images-idx3-ubyte.gz": "5e5815ec1b522089134435f7c55e75a00960b58414793593ffff23efc0821683",
        "emnist-bymerge-test-labels-idx1-ubyte.gz": "8bda1516255683ba9071e141947ca0c91a911176065cdd6259b0b4d8dc5b5f35",
        "emnist-bymerge-train-images-idx3-ubyte.gz": "39bf8c68037dad40db35348895f7e4e056e8c0a005ab78869c9fbc2c96e947be",
        "emnist-bymerge-train-labels-idx1-ubyte.gz": "2c47293b9e62d6abf6ad05fbf67e40baa32adfd380b8d7b44dcc35534b64e1f1",
        "emnist-digits-test-images-idx3-ubyte.gz": "20ebe43509264f7639d37c835a3f0b009e90b29e00a099a03101abe1644a3f63",
        "emnist-digits-test-labels-idx1-ubyte.gz": "bad1834c45d5988e270b99d43b13edc3fd898f658ffbc2caf2846ef27f7b05b0",
        "emnist-digits-train-images-idx3-ubyte.gz": "f7c95004d14d81af89522e67d8f0c781dfb3bd544181c81bfe1eb6b41c35b726",
        "emnist-digits-train-labels-idx1-ubyte.gz": "6638a6ff5fe2eefd9cca2471995b46c82986b8e4b2a70d2f5ce8e05d7edb319e",
        "emnist-letters-test-images-idx3-ubyte.gz": "50f0e93d75b99b463e9760b8345866f22587fa2c2fba472730a5ba09c693412d",
        "emnist-letters-test-labels-idx1-ubyte.gz": "924955c31fe7fd809b7303b5c0141282955f4b8390c74cdfd5d80435e0f4b4cb",
        "emnist-letters-train-images-idx3-ubyte.gz": "6288f418a917e007bf5fddb823a2dc7a5c6a35031401b93292a539cb12bd881f",
        "emnist-letters-train-labels-idx1-ubyte.gz": "9759af91ea6bccdf07a6040fd085861f2ec88e37f7c3f5760f6feb57106fbe5c",
        "emnist-mnist-test-images-idx3-ubyte.gz": "b25640fa9e356c618132f5df347c95ef5bae6d9c2596be1de40f7e0ae1c3eac6",
        "emnist-mnist-test-labels-idx1-ubyte.gz": "bcc5385d38f083dba046f5f756e99b32f5ea7fad122c6243c71c2239873065ca",
        "emnist-mnist-train-images-idx3-ubyte.gz": "5f9942f441031c0f1f2e4d162059fd6e19ea808b34c328b6d16cab0ed24c78f2",
        "emnist-mnist-train-labels-idx1-ubyte.gz": "00c6d3c2342fdffb1711e0b5656cac4ce5862d2826399d383a9bac07d612e9f8",
    },
    # decompressed digests, known for the digits split only
    raw={
        "emnist-digits-train-images-idx3-ubyte.gz": "0fd17ca7bc21f8a10f68356f3c60e9c36ef287895394791ecd051c7a15ea4acd",
        "emnist-digits-train-labels-idx1-ubyte.gz": "86013a4b932e35477a90ecff239cf492643795cf3c68dd6b7fae3264fb24316b",
        "emnist-digits-test-images-idx3-ubyte.gz": "3075fed46264a655192bd2ac1dafba8ce0c5184802d74acd0a123e25daa15c50",
        "emnist-digits-test-labels-idx1-ubyte.gz": "a456cc5cfc928851403b513f94937b9d7570f424ea6d56dce3b28f6c0723608a",
    },
)

# The official label -> character mapping files (CRLF text, "label ascii ...").
_BALANCED_MAP = "956dc507bf69e9f31f4e3e876d22ec66124aa229b5d0bd65ab8956a8044d3ede"
_DIGITS_MAP = "6d157dc46a7b1c80d630f4fed571d9964db37ee1669cac403b6db2c8bb109d94"
EMNIST_MAPPINGS: dict[str, FileSpec] = {
    "emnist-balanced-mapping.txt": FileSpec(sha256=(_BALANCED_MAP,)),
    "emnist-bymerge-mapping.txt": FileSpec(sha256=(_BALANCED_MAP,)),
    "emnist-byclass-mapping.txt": FileSpec(
        sha256=("68fa9091ed325830418b5a8d732f32316e54a480b9f8994a161abb4eddd0d078",)
    ),
    "emnist-digits-mapping.txt": FileSpec(sha256=(_DIGITS_MAP,)),
    "emnist-mnist-mapping.txt": FileSpec(sha256=(_DIGITS_MAP,)),
    "emnist-letters-mapping.txt": FileSpec(
        sha256=("a56cb9a31c08e3251a61ea7b1ec8bc4f4cabdc1edf3128508d3a485ad53fa456",)
    ),
}
