"""Digital signatures in PDF documents (D11, D19): keys and the demo PKI (:mod:`.pki`), PAdES
signing and verification (:mod:`.pdf`), and the ``pki`` / ``minutes verify`` commands (:mod:`.cli`).

See ``docs/signatures.md``.
"""
