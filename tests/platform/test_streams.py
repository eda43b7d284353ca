"""The stream dispatcher: a failing record stops its batch there, as Lambda redelivers from it."""

from __future__ import annotations

from typing import Any

from chalicelib.platform import streams
from tests.support.events import LambdaContext, batch, make_stream_record

SEEN: list[str] = []
APPLIED: list[list[str]] = []


def _probe(change: streams.Change, work: streams.Batch) -> None:
    name = str(change.image["name"])
    if name.startswith("bad"):
        raise RuntimeError("this record cannot be handled yet")
    SEEN.append(name)
    names: list[str] = work.data.setdefault("names", [])
    names.append(name)
    work.defer("names", lambda: APPLIED.append(list(names)))


REACTIONS = {"StreamProbe": (_probe,)}


def _records(*names: str) -> dict[str, Any]:
    return batch(
        [
            make_stream_record(
                "INSERT", {"pk": n, "sk": "s"}, {"pk": n, "sk": "s", "type": "StreamProbe", "name": n}
            )
            for n in names
        ]
    )


def _sequence(event: dict[str, Any], index: int) -> str:
    return event["Records"][index]["dynamodb"]["SequenceNumber"]


def test_records_after_a_failure_are_not_run_and_work_before_it_is_kept() -> None:
    SEEN.clear()
    APPLIED.clear()
    event = _records("a", "bad", "c", "d")

    result = streams.handle(event, LambdaContext("table_changes"), REACTIONS)

    failed = [item["itemIdentifier"] for item in result["batchItemFailures"]]
    assert failed[0] == _sequence(event, 1)
    assert set(failed) == {_sequence(event, i) for i in (1, 2, 3)}
    assert SEEN == ["a"]
    assert APPLIED == [["a"]]


def test_a_clean_batch_applies_its_deferred_work_once() -> None:
    # GIVEN
    SEEN.clear()
    APPLIED.clear()

    # WHEN
    result = streams.handle(_records("a", "b", "c"), LambdaContext("table_changes"), REACTIONS)

    # THEN
    assert result == {"batchItemFailures": []}
    assert SEEN == ["a", "b", "c"]
    assert APPLIED == [["a", "b", "c"]]


def test_a_failed_record_logs_why_once(caplog: Any) -> None:
    # GIVEN a batch whose second record cannot be handled
    event = _records("a", "bad", "c")
    # WHEN it runs
    streams.handle(event, LambdaContext("table_changes"), REACTIONS)
    # THEN the reason is logged once, with the record's sequence number (the records after it
    # are only waiting: no error of their own)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "this record cannot be handled yet" in (errors[0].exc_text or str(errors[0].exc_info))
    assert errors[0].sequence_number == _sequence(event, 1)  # type: ignore[attr-defined]
