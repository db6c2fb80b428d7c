"""The async gateway's typed calls are the Store's own: same parameters, defaults and return type.

``StoreGateway.aio`` (:class:`~aiops.storage.async_store.AsyncStore`) declares every public
Store method awaited; a wrapper whose signature drifts from the Store method it forwards to
would type-check callers against the wrong contract, so each is compared with the Store's here.
"""

from __future__ import annotations

import inspect

import pytest

from aiops.storage.async_store import AsyncStore
from aiops.storage.gateway import _STORE_METHODS
from aiops.storage.store import Store


def parameters(signature: inspect.Signature) -> list[inspect.Parameter]:
    """The declared parameters: without ``_ray_trace_ctx``, which Ray adds to a class's methods
    in place once that class has been made an actor in this process (as the storage owner's is
    when an engine test ran earlier in the same pytest run)."""
    return [p for p in signature.parameters.values() if p.name != "_ray_trace_ctx"]


TYPED = sorted(name for name, member in vars(AsyncStore).items()
               if inspect.iscoroutinefunction(member) and not name.startswith("_"))


def test_every_store_method_but_close_is_there_typed() -> None:
    assert _STORE_METHODS - {"close"} == set(TYPED), "AsyncStore and Store differ: add the Store method to AsyncStore"


@pytest.mark.parametrize("name", TYPED)
def test_a_typed_call_has_the_store_methods_signature(name: str) -> None:
    assert hasattr(Store, name), f"Store has no method {name!r}"
    ours = inspect.signature(getattr(AsyncStore, name))
    theirs = inspect.signature(getattr(Store, name))
    assert parameters(ours) == parameters(theirs)
    assert ours.return_annotation == theirs.return_annotation


def test_an_unknown_method_is_not_reached_by_name() -> None:
    view = AsyncStore(gateway=None)  # type: ignore[arg-type]  # never reached
    with pytest.raises(AttributeError):
        view.list_all_tenant  # type: ignore[attr-defined]  # noqa: B018
