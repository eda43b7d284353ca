"""The one table as PynamoDB sees it: a polymorphic base item and its four overloaded GSIs.

Every entity is a subclass of `Item` with a discriminator (`type`), its own key prefixes and
its own attributes; `docs/data-model.md` lists them. The key schema itself is defined once, in
infra/resources.json; these classes only name the attributes.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import DiscriminatorAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.platform import config


class Gsi1(GlobalSecondaryIndex["Item"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex["Item"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(GlobalSecondaryIndex["Item"]):
    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Gsi4(GlobalSecondaryIndex["Item"]):
    class Meta:
        index_name = "gsi4"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class Item(Model):
    """Base of every item in the table. Querying it returns instances of the right subclass."""

    class Meta:
        table_name = config.table_name()

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    type = DiscriminatorAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    ttl = TTLAttribute(null=True)

    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()
    gsi4 = Gsi4()


def connection() -> Connection:
    """The shared low-level connection, for TransactWrite/TransactGet."""
    return Item._get_connection().connection


def is_conditional_failure(error: Exception) -> bool:
    """True for a PynamoDB error caused by a failed condition (the item already exists...)."""
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def cancellation_reasons(error: Exception) -> list[str | None]:
    """The per-item codes of a cancelled transaction (None where that item was fine)."""
    reasons: list[Any] = getattr(error, "cancellation_reasons", None) or []
    return [reason.code if reason else None for reason in reasons]
