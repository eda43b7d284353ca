"""What the step runner does around each campaign email (chalicelib.campaigns.step_runner): the
suppression check and the sending limits before it, the links, headers and records of
deliverability around the send (chalicelib.deliverability.email_links, chalicelib.deliverability.tracking).

Public:
- `hold(ref, email) -> str | int`: a stop reason (suppressed) or seconds to wait (limits); 0: go
- `send(send_email, ref, via_group_id, step, email) -> Any`: decorate, record, send
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.deliverability import email_links, sending_limits, suppression, tracking
from chalicelib.platform.link_tokens import Target
from chalicelib.platform.logs import logger


def hold(ref: Any, address: str | None) -> str | int:
    if address:
        reason = suppression.is_suppressed(ref.ws, address)
        if reason:
            return reason
    return sending_limits.wait_seconds(ref.ws)


def send(send_email: Callable[[Any], Any], ref: Any, via_group_id: str | None, step: Any, email: Any) -> Any:
    target = Target(ref.ws, ref.campaign_id, ref.contact_id, int(ref.run), str(step.id), via_group_id)
    try:
        decorated = email_links.decorate(email, target)
    except ValueError:
        logger.exception("email sent without tracking: ids are not ULIDs", extra=ref.message())
        return send_email(email)
    at = tracking.record_sent(target, decorated.message_id, step.subject)
    ses_id = send_email(decorated.email)
    if isinstance(ses_id, str):
        tracking.record_ses_id(target, decorated.message_id, ses_id, step.subject, at)
    return ses_id
