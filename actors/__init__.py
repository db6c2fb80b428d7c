"""Ray actors: thin shells that own state, checkpoint it and delegate to ``models/``.

Every actor is named ``<role>-<n>`` in the ``aiops`` namespace so operators find it in the
Ray dashboard (see :mod:`actors.directory`).
"""
