"""The local stack (`make run`) and the event machinery the tests use.

Read in this order:
- stack.py      `python -m devstack`: moto server, resources, environment, HTTP API, pump, Ctrl-C
- pump.py       every stream/queue/schedule handler of an app: `drain()` for tests, threads for the stack
- sources.py    the app's decorators bound to the provisioned stream and queues
- streams.py    a DynamoDB Streams mapping: shards, batching window, retry from the failed record
- queues.py     an SQS mapping: delete successes, retry failures, redrive by SQS itself
- schedules.py  rate(...) and cron(...) timetables
- invoke.py     calling a handler as Lambda does; the `Invocation` record and its printed line
- events.py     Lambda-shaped events and context (also for tests that call handlers directly)
- settings.py   ports, delays, and STREAM_MAX_RETRIES shared with the deployed template
- aws.py        devstack's own boto3 clients;  emails.py  `make emails`
- requests_count.py  counts the app's AWS requests (tests and bench/)
"""
