"""The one thing the dispatcher knows about a sink (like httpx's ``BaseTransport``)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from threadwatch.alerts.model import Notification


class Sink(Protocol):
    """Sends notifications somewhere. The dispatcher knows nothing else about it."""

    def send(self, notification: Notification) -> None:
        """Deliver one notification, or raise.

        Raises:
            DeliveryError: not accepted; ``retryable`` and ``retry_after`` say what to do next.
                Its message never contains the sink's URL or secret.
        """

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class Resyncing(Protocol):
    """A sink that keeps a receiver's state right by re-posting it (Alertmanager): its sender
    calls ``resync`` on every pass in which no delivery to it is waiting."""

    def resync(self, now: float) -> None:
        """Re-post what needs it at ``now``, if it is time; raise ``DeliveryError`` if the
        post failed."""
