"""Errors that say what happened (issue #18, item 6): an empty uploaded file, and the region
an invalid phone number was read in."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.imports import import_upload


@pytest.mark.parametrize(
    "data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n  \n"], ids=["empty", "bom only", "blank lines"]
)
def test_an_empty_uploaded_file_says_the_file_is_empty(api: Api, pump, data: bytes) -> None:
    view = import_upload(api, pump, data)
    assert (view["status"], view["failureReason"]) == ("FAILED", "the file is empty")


def test_an_empty_csv_body_says_the_file_is_empty(api: Api) -> None:
    reply = api.post("/api/v1/imports", raw=b"", headers={"Content-Type": "text/csv"})
    assert reply.status == 400
    assert "empty" in reply.json["error"]["message"]


def workspace_in(new_workspace, region: str) -> Api:
    from chalicelib.models.workspaces import Workspace
    from tests.support.campaigns import workspace_of

    api = new_workspace()
    item = Workspace.get(*Workspace.key(workspace_of(api)))
    item.update(actions=[Workspace.defaultRegion.set(region)])
    return api


def phone_message(api: Api, phone: str) -> str:
    """What a client is told of a bad phone: the warning of the phone left out of a create,
    and the same words in the 422 of a PATCH."""
    reply = api.post("/api/v1/contacts", {"email": "ann@example.com", "phone": phone})
    assert reply.status == 201, reply.json
    [warning] = reply.json["warnings"]
    refused = api.patch(f"/api/v1/contacts/{reply.json['id']}", {"phone": phone})
    assert refused.status == 422, refused.json
    [detail] = [d for d in refused.json["error"]["details"] if d["field"] == "phone"]
    assert (warning["field"], warning["value"], warning["reason"]) == ("phone", phone, detail["message"])
    return str(detail["message"])


def test_an_invalid_national_number_names_the_workspaces_region(new_workspace) -> None:
    assert phone_message(workspace_in(new_workspace, "US"), "555 0100") == (
        "is not a valid phone number (read in the workspace's default region, US)"
    )
    assert phone_message(new_workspace(), "06 00") == (
        "is not a valid phone number (read in the workspace's default region, FR)"
    )


def test_an_invalid_international_number_names_no_region(new_workspace) -> None:
    message = phone_message(workspace_in(new_workspace, "US"), "+33 7 00 00 00 01")
    assert message == "is not a valid phone number"
    assert "ZZ" not in message and "region" not in message
