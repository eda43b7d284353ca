"""Webhooks: endpoints, the events the table's stream gives them, signed deliveries through SQS."""
