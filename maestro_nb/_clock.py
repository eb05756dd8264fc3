"""The check instant: what "now" means for one orchestrator run.

Only the edges of the library read the clock; everything inside takes the
instant as a parameter.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from ._localtime import UTC, to_instant

__all__ = ["CHECK_DATETIME_ENV", "resolve_check_datetime"]

logger = logging.getLogger(__name__)

CHECK_DATETIME_ENV = "MAESTRO_CHECK_DATETIME"


def resolve_check_datetime(value: object = None) -> datetime:
    """Return the check instant: the environment override, the value, or now.

    ``MAESTRO_CHECK_DATETIME`` replays a schedule at a chosen instant; it is
    meant for debugging, never for production.
    """
    override = os.environ.get(CHECK_DATETIME_ENV)
    if override:
        logger.warning(
            "%s=%s overrides the check instant; unset it in production",
            CHECK_DATETIME_ENV,
            override,
        )
        return to_instant(override)

    if value is None:
        return datetime.now(UTC)

    return to_instant(value)
