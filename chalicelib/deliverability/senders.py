"""Sender identities: the addresses and domains a workspace may send campaigns from.

A workspace claims an identity in the table (one conditional PutItem keyed by the identity,
so no two workspaces can hold it) and asks SES v2 to verify it (CreateEmailIdentity); its
status and DKIM records are SES's, read on every answer (GetEmailIdentity). Launch and resume
need the campaign's fromEmail covered by a VERIFIED identity of the workspace: the address, or
its domain. One workspace can never send as another's identity: an address under a domain
another workspace holds is refused, and a domain under which another workspace holds an
address. An identity that already exists in SES (the local stack verifies COHORT_SES_VERIFIED
at start, and moto verifies any new one at once) goes to the first workspace that claims it.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.models.senders import SenderIdentity
from chalicelib.platform import clock, ids, mailer
from chalicelib.platform.db import cancellation_reasons, connection
from chalicelib.platform.errors import Conflict, NotFound, ValidationFailed
from chalicelib.platform.paged_query import cursor_page

EMAIL, DOMAIN = "EMAIL_ADDRESS", "DOMAIN"
_FAILED = "ConditionalCheckFailed"  # a cancelled transaction's code for an unmet condition


def create(ws: str, email: str | None, domain: str | None) -> SenderIdentity:
    identity = email or domain
    assert identity is not None
    kind = EMAIL if email else DOMAIN
    sender_id = ids.new_id()
    item = SenderIdentity(
        *SenderIdentity.key(identity),
        id=sender_id,
        workspaceId=ws,
        identity=identity,
        kind=kind,
        createdAt=clock.now_iso(),
        gsi1pk=SenderIdentity.list_partition(ws),
        gsi1sk=SenderIdentity.list_sort(sender_id),
    )
    parent = identity.rpartition("@")[2]
    if kind == EMAIL:
        item.gsi2pk, item.gsi2sk = SenderIdentity.domain_partition(parent), identity
    else:
        _no_address_of_another(ws, identity)
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(item, condition=SenderIdentity.pk.does_not_exist())
            if kind == EMAIL:
                transaction.condition_check(
                    SenderIdentity,
                    *SenderIdentity.key(parent),
                    condition=SenderIdentity.pk.does_not_exist() | (SenderIdentity.workspaceId == ws),
                )
    except TransactWriteError as error:
        reasons = cancellation_reasons(error)
        if _FAILED not in reasons:
            raise
        # PynamoDB sends condition checks before puts: which one failed is read back instead.
        raise _taken(ws, identity, parent if kind == EMAIL else None) from None
    try:
        mailer.create_identity(identity)
    except Exception:
        item.delete()  # SES refused it: the claim goes too
        raise
    return item


def _taken(ws: str, identity: str, parent: str | None) -> Conflict:
    holders = {
        item.identity: item
        for item in SenderIdentity.batch_get(
            [SenderIdentity.key(i) for i in (identity, parent) if i], consistent_read=True
        )
    }
    holder = holders.get(identity) or (holders.get(parent) if parent else None)
    if holder is None:
        return Conflict(f"{identity} changed meanwhile: try again")
    identity = holder.identity
    if holder.workspaceId == ws:
        return Conflict(
            f"the workspace already has the sender identity {identity}",
            [{"field": "identity", "existingSenderId": holder.id}],
        )
    return Conflict(
        f"{identity} is another workspace's sender identity",
        [{"field": "identity", "message": "claimed by another workspace"}],
    )


def _no_address_of_another(ws: str, domain: str) -> None:
    for address in SenderIdentity.gsi2.query(SenderIdentity.domain_partition(domain)):
        if isinstance(address, SenderIdentity) and address.workspaceId != ws:
            raise Conflict(
                f"an address of {domain} is another workspace's sender identity",
                [{"field": "domain", "message": "an address of this domain is claimed by another workspace"}],
            )


def get(ws: str, sender_id: str) -> SenderIdentity:
    found = list(
        SenderIdentity.gsi1.query(
            SenderIdentity.list_partition(ws), SenderIdentity.gsi1sk == SenderIdentity.list_sort(sender_id)
        )
    )
    if not found or not isinstance(found[0], SenderIdentity) or found[0].workspaceId != ws:
        raise NotFound("sender identity not found")
    return found[0]


def list_page(ws: str, limit: int, cursor: str | None) -> tuple[list[SenderIdentity], str | None]:
    """A page of the workspace's identities, oldest first: one Query on gsi1."""
    return cursor_page(
        SenderIdentity,
        SenderIdentity.list_partition(ws),
        SenderIdentity.gsi1sk.startswith("SENDER#"),
        index="gsi1",
        limit=limit,
        scope=f"{ws}:senders",
        cursor=cursor,
    )


def delete(ws: str, sender_id: str) -> None:
    """The workspace gives the identity up: the claim, then SES's identity."""
    item = get(ws, sender_id)
    item.delete(condition=SenderIdentity.workspaceId == ws)
    mailer.delete_identity(item.identity)


def view(item: SenderIdentity) -> dict[str, Any]:
    found = mailer.read_identity(item.identity)
    return {
        "id": item.id,
        "identity": item.identity,
        "type": "email" if item.kind == EMAIL else "domain",
        # Gone from SES (deleted outside Cohort): it cannot be used to send.
        "status": found.status if found else "FAILED",
        "dkimRecords": found.dkim_records if found else [],
        "dkimStatus": found.dkim_status if found else None,
        "createdAt": item.createdAt,
    }


def require_verified(ws: str, from_email: str) -> None:
    """422 unless a VERIFIED identity of the workspace covers `from_email` (the address, or
    its domain); the message names fromEmail and the status found."""
    domain = from_email.rpartition("@")[2].lower()
    address = f"{from_email.rpartition('@')[0]}@{domain}"
    held = {
        item.identity: item
        for item in SenderIdentity.batch_get([SenderIdentity.key(address), SenderIdentity.key(domain)])
        if item.workspaceId == ws
    }
    statuses = []
    detail: dict[str, Any]
    for identity in (address, domain):
        if identity in held:
            found = mailer.read_identity(identity)
            status = found.status if found else "FAILED"
            if status == "VERIFIED":
                return
            statuses.append((identity, status))
    if statuses:
        identity, status = statuses[0]
        message = f"{from_email} is not verified yet: the sender identity {identity} is {status}"
        detail = {"field": "fromEmail", "message": message, "identity": identity, "status": status}
    else:
        message = (
            f"the workspace has no sender identity for {from_email}: "
            f"add it (or {domain}) with POST /api/v1/senders"
        )
        detail = {"field": "fromEmail", "message": message, "status": None}
    raise ValidationFailed(f"fromEmail: {message}", [detail])
