"""A Query on moto at size: devstack.moto_index's sorted indexes against moto's own Query.

    .venv/bin/python -m bench.moto_query [--items 100000]

In-process moto (mock_aws) with the resources of infra.provision; `--items` items written with
BatchWriteItem into 1,000 partitions, each item in gsi1; then the median time of a Query of
one 10-item partition (base table and gsi1, a page of 10) with the indexes, and without them
(moto's own code: every item of the table walked and sorted on each call).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import boto3

    from bench.moto_server import in_process
    from devstack import moto_index

    with in_process() as resources:
        client = boto3.client("dynamodb")
        table = resources.table_name
        started = time.perf_counter()
        for start in range(0, args.items, 25):
            batch = [
                {
                    "PutRequest": {
                        "Item": {
                            "pk": {"S": f"W#{i % 1000}"},
                            "sk": {"S": f"C#{i:08}"},
                            "gsi1pk": {"S": f"G#{i % 1000}"},
                            "gsi1sk": {"S": f"{i:08}"},
                            "v": {"S": "x" * 100},
                        }
                    }
                }
                for i in range(start, min(args.items, start + 25))
            ]
            client.batch_write_item(RequestItems={table: batch})
        print(f"{args.items:,} items written in {time.perf_counter() - started:.1f} s")
        queries = {
            "base table": {
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "W#7"}},
            },
            "gsi1": {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :p AND gsi1sk > :s",
                "ExpressionAttributeValues": {":p": {"S": "G#7"}, ":s": {"S": "00000000"}},
            },
        }
        for name, query in queries.items():
            client.query(TableName=table, Limit=10, **query)  # builds the index once
            times = []
            for _ in range(50):
                begun = time.perf_counter()
                client.query(TableName=table, Limit=10, **query)
                times.append((time.perf_counter() - begun) * 1000)
            indexed = statistics.median(times)
            with moto_index.disabled():
                times = []
                for _ in range(3):
                    begun = time.perf_counter()
                    client.query(TableName=table, Limit=10, **query)
                    times.append((time.perf_counter() - begun) * 1000)
            own = statistics.median(times)
            print(f"{name:10}: indexed {indexed:7.2f} ms, moto's own {own:9.1f} ms ({own / indexed:,.0f} x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
