"""Sink types by name: the one place the ``[alerts.sinks.NAME]`` tables and ``build_sinks`` look.

A sink module declares its settings (a ``SinkSettings`` with ``type: Literal["<name>"]`` and its
own keys) and registers them with the function that builds the sink::

    class PagerSettings(SinkSettings):
        type: Literal["pager"]
        team: str

    register_sink(PagerSettings, lambda name, settings, url, env: PagerSink(url, settings.team))

Every module of this package is imported the first time the registry is read, so a new sink
is one new module here and nothing else (code outside the package registers the same way before
it loads a config). They are imported only then: a config with no sink never loads an HTTP
client. A table's ``type`` picks its settings, validated as pydantic's discriminated union of the
registered types would be (the same errors, the type's tag in the location).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import Field, TypeAdapter, field_validator

from threadwatch.alerts.secrets import Secret, has_reference, is_http_url
from threadwatch.alerts.sinks.base import Sink
from threadwatch.health.settings import RaisedLevel
from threadwatch.settings import HOUR, Settings


class SinkSettings(Settings):
    """What every ``[alerts.sinks.NAME]`` table may say; a sink type adds its own keys."""

    type: str
    url: str = Field(min_length=1)
    timeout_seconds: float = Field(10.0, gt=0, le=120)
    verify_tls: bool = True
    # Pause between two messages to the same sink (Slack asks for about one a second).
    min_interval_seconds: float = Field(0.0, ge=0, le=HOUR)
    # Routing (``alerts/routing.py``): the alerts this sink is sent. None: the [alerts] one.
    min_level: RaisedLevel | None = None
    # Globs over scopes: a source's path or its file name, or "total".
    scopes: tuple[str, ...] = Field(("*",), min_length=1)
    # Alert rules by name ("level", or an [[alerts.events]] name); empty: every rule.
    rules: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _written_out_url_is_http(cls, url: str) -> str:
        # a URL written out in the file is checked with the file (``config check``); one
        # with a ${VARIABLE} is checked once expanded, at start-up
        if not has_reference(url) and not is_http_url(url):
            raise ValueError("not a valid http(s) URL (value not shown)")
        return url

    def conflict(self, *, repeat_seconds: float) -> str | None:
        """What in these settings cannot work with the ``[alerts]`` table's, or None."""
        return None


S = TypeVar("S", bound=SinkSettings)
# (sink name, its settings, its URL expanded, the environment for other ${VARIABLES}) -> sink
Build = Callable[[str, S, Secret, Mapping[str, str]], Sink]


@dataclass(frozen=True)
class SinkType:
    """A registered sink type: its settings model and how to build it."""

    settings: type[SinkSettings]
    build: Build[Any]


_TYPES: dict[str, SinkType] = {}
_loaded = False


def register_sink(settings: type[S], build: Build[S]) -> None:
    """Make ``type = "<name>"`` tables valid (their keys are ``settings``'s) and built by
    ``build``; the name is the ``Literal`` of ``settings.type``.

    Raises:
        TypeError: ``settings.type`` is not one ``Literal`` string.
        ValueError: another settings model has that name already.
    """
    name = type_name(settings)
    known = _TYPES.get(name)
    if known is not None and known.settings is not settings:
        raise ValueError(f"sink type {name!r} is registered already ({known.settings.__name__})")
    _TYPES[name] = SinkType(settings, build)


def type_name(settings: type[SinkSettings]) -> str:
    """The name a settings model's ``type: Literal["<name>"]`` gives it."""
    annotation = settings.model_fields["type"].annotation
    names = get_args(annotation) if get_origin(annotation) is Literal else ()
    if len(names) != 1 or not isinstance(names[0], str):
        raise TypeError(f"{settings.__name__}.type must be Literal['<name>'], not {annotation}")
    return names[0]


def sink_types() -> Mapping[str, SinkType]:
    """Every registered sink type, by name (this package's own first)."""
    global _loaded  # noqa: PLW0603 - the package's modules are imported once
    if not _loaded:
        _loaded = True
        package = sys.modules[__package__ or ""]
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
    return MappingProxyType(_TYPES)


def validate_sink(table: object) -> SinkSettings:
    """One ``[alerts.sinks.NAME]`` table as the settings of its ``type``.

    Raises:
        pydantic.ValidationError: an unknown or missing type, or a key the type refuses.
    """
    models = tuple(sink_type.settings for sink_type in sink_types().values())
    return _union(models).validate_python(table)


@functools.cache
def _union(models: tuple[type[SinkSettings], ...]) -> TypeAdapter[SinkSettings]:
    if len(models) == 1:  # no union of one: the model itself
        return TypeAdapter(models[0])
    # the registered types are known at run time only: a union no type checker can see
    union = Union[models]  # type: ignore[valid-type]  # noqa: UP007
    return TypeAdapter(Annotated[union, Field(discriminator="type")])
