"""The stack's state log (devstack/persist.py): a frame holds what changed since the last one,
whatever the size of the tables, and a restart replays it over the base."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack import persist
from infra.provision import Provisioned

ACCOUNT = "123456789012"


@pytest.fixture
def store(aws: Provisioned, tmp_path: Path) -> persist.Store:
    persist.install()
    persist._dirty.clear()
    return persist.Store(tmp_path)


def _item(i: int, value: str = "v") -> dict[str, Any]:
    return {"pk": {"S": f"P#{i % 50}"}, "sk": {"S": f"S#{i:06}"}, "v": {"S": value * 40}}


def _fill(table: str, count: int) -> None:
    client = boto3.client("dynamodb")
    for start in range(0, count, 25):
        batch = [{"PutRequest": {"Item": _item(i)}} for i in range(start, min(count, start + 25))]
        client.batch_write_item(RequestItems={table: batch})


def _restart(aws: Provisioned) -> None:
    """What a new process has before it loads: moto's backends empty again."""
    from moto.backends import get_backend

    for service in persist.SERVICES:
        for regions in get_backend(service).values():  # type: ignore[call-overload]
            for region in list(regions):
                regions[region].reset()


def _all_items(table: str) -> dict[str, str]:
    client = boto3.client("dynamodb")
    found: dict[str, str] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        found.update({item["sk"]["S"]: item["v"]["S"] for item in page["Items"]})
    return found


def _stream_length(aws: Provisioned) -> int:
    from moto.backends import get_backend

    table = get_backend("dynamodb")[ACCOUNT]["us-east-1"].tables[aws.table_name]  # type: ignore[index]
    return len(table.stream_shard.items)


def test_a_frame_holds_the_changes_not_the_table_and_a_restart_replays_it(
    aws: Provisioned, store: persist.Store
) -> None:
    # Given a table of 3,000 items saved in a base
    table = aws.table_name
    _fill(table, 3000)
    store.save({"resources": "r", "checkpoints": {"shard": "1"}})
    base_bytes = store.last_bytes

    # When ten items change (put, update, delete), a message is queued, and one frame is logged
    client = boto3.client("dynamodb")
    for i in range(3000, 3005):
        client.put_item(TableName=table, Item=_item(i, "new"))
    client.update_item(
        TableName=table,
        Key={"pk": {"S": "P#7"}, "sk": {"S": "S#000007"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "updated"}},
    )
    for i in (1, 2, 3):
        client.delete_item(TableName=table, Key={"pk": {"S": f"P#{i}"}, "sk": {"S": f"S#{i:06}"}})
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="kept")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="step")
    frame_bytes = store.append({"resources": "r", "checkpoints": {"shard": "9"}})
    expected = _all_items(table)
    records = _stream_length(aws)

    # Then the frame is a small fraction of the base (it holds the changes, not the table)
    assert frame_bytes * 20 < base_bytes, (frame_bytes, base_bytes)

    # When the process dies (no last save) and a new one loads the folder
    _restart(aws)
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []  # nothing left in memory
    stack = persist.Store(store.folder).load()

    # Then all up to the frame is back: items, stream records, the queue, the stack's own state
    assert stack == {"resources": "r", "checkpoints": {"shard": "9"}}
    assert _all_items(table) == expected
    assert expected["S#000007"] == "updated" and "S#000001" not in expected and "S#003004" in expected
    assert _stream_length(aws) == records
    message = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert [m["Body"] for m in message] == ["step"]


def test_a_frame_cut_short_by_a_crash_is_ignored_and_the_frames_before_it_kept(
    aws: Provisioned, store: persist.Store
) -> None:
    table = aws.table_name
    store.save({"n": 0})
    client = boto3.client("dynamodb")
    client.put_item(TableName=table, Item=_item(1, "first"))
    store.append({"n": 1})
    client.put_item(TableName=table, Item=_item(2, "second"))
    store.append({"n": 2})
    log = store.log_path(store.generation)
    data = log.read_bytes()
    log.write_bytes(data[:-10])  # the second frame was being written when the process died

    _restart(aws)
    stack = persist.Store(store.folder).load()

    assert stack == {"n": 1}
    assert _all_items(table) == {"S#000001": "first" * 40}


def test_a_new_base_replaces_the_logs_and_a_restart_after_it_misses_nothing(
    aws: Provisioned, store: persist.Store
) -> None:
    table = aws.table_name
    store.save({"n": 0})
    client = boto3.client("dynamodb")
    client.put_item(TableName=table, Item=_item(1))
    store.append({"n": 1})
    old_log = store.log_path(store.generation)
    assert old_log.exists()

    assert store.save_forked({"n": 2})  # a child writes the new base
    client.put_item(TableName=table, Item=_item(2))  # meanwhile: goes to the new log
    store.append({"n": 3})
    store.reap(wait=True)  # the child's base is whole

    assert not old_log.exists()  # the new base holds it
    _restart(aws)
    restored = persist.Store(store.folder)
    assert restored.load() == {"n": 3}
    assert set(_all_items(table)) == {"S#000001", "S#000002"}


def test_a_log_left_without_its_base_is_never_replayed(aws: Provisioned, store: persist.Store) -> None:
    # Given a base and a log, then the base removed by hand
    table = aws.table_name
    store.save({"n": 0})
    boto3.client("dynamodb").put_item(TableName=table, Item=_item(1, "stale"))
    store.append({"n": 1})
    store.path.unlink()
    _restart(aws)

    # When a stack starts on the folder (empty), provisions again and saves its first base
    assert persist.Store(store.folder).load() is None
    from infra.provision import provision

    provision()
    fresh = persist.Store(store.folder)
    fresh.save({"n": "fresh"})
    _restart(aws)

    # Then a restart has the fresh base only, not the stale log's item
    assert persist.Store(store.folder).load() == {"n": "fresh"}
    assert _all_items(table) == {}


def test_a_stop_logs_a_last_frame_instead_of_writing_the_base_again(
    aws: Provisioned, store: persist.Store
) -> None:
    # Given a stack with a base of 2,000 items, and an item written since its last frame
    table = aws.table_name
    _fill(table, 2000)
    store.save({"n": 0})
    base = store.path.read_bytes()
    snapshots = persist.Snapshots(store, lambda: {"n": 1}, every=3600)
    boto3.client("dynamodb").put_item(TableName=table, Item=_item(5000, "last"))

    # When the stack stops
    snapshots.stop()

    # Then the base was not written again (a whole base of 100,000 contacts takes minutes)
    assert store.path.read_bytes() == base
    # and a restart has everything, the last write included
    _restart(aws)
    assert persist.Store(store.folder).load() == {"n": 1}
    assert _all_items(table)["S#005000"] == "last" * 40
    assert len(_all_items(table)) == 2001


def test_a_stop_during_a_forked_save_does_not_wait_for_it_and_loses_nothing(
    aws: Provisioned, store: persist.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a base, a write logged after it, and a child writing a new base that never ends
    table = aws.table_name
    client = boto3.client("dynamodb")
    store.save({"n": 0})
    client.put_item(TableName=table, Item=_item(1, "logged"))
    store.append({"n": 1})

    def endless(stack: dict[str, Any], generation: int) -> bytes:
        time.sleep(3600)
        return b""

    monkeypatch.setattr(persist.Store, "_dumps", staticmethod(endless))
    assert store.save_forked({"n": 2})
    child = store._child
    client.put_item(TableName=table, Item=_item(2, "after"))
    snapshots = persist.Snapshots(store, lambda: {"n": 3}, every=3600)

    # When the stack stops
    stopping = threading.Thread(target=snapshots.stop)
    stopping.start()
    stopping.join(timeout=60)

    # Then the stop did not wait for the child, which is gone
    assert not stopping.is_alive()
    assert child is not None and not Path(f"/proc/{child}").exists()
    # and a restart has every write (the base before the child and the logs after it)
    monkeypatch.undo()
    _restart(aws)
    assert persist.Store(store.folder).load() == {"n": 3}
    assert _all_items(table) == {"S#000001": "logged" * 40, "S#000002": "after" * 40}
