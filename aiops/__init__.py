"""AIOps Engine: the shared domain package (settings, storage, identity, schemas, CLI).

Ray actors live in ``actors/``, Serve deployments in ``deployments/`` and swappable models
in ``models/``; everything they share about the domain is here.
"""

__version__ = "1.2.0"
