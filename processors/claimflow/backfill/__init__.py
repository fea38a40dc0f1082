"""Snapshot sources (backfill) for a table that already holds items when streaming starts.

Both sources turn items into ordinary change events (``claimflow.events.ChangeEvent``): an ``INSERT`` of the item
as the snapshot saw it, stamped with the snapshot's point in time and a ``snapshot:`` event id, which the merge
ranks below every stream event of the same time (``claimflow.snowflake.spec``). Everything after the decoder
(claim rows, routing, the processors, the merge) treats them as the inserts they are. See docs/backfill.md.

- ``claimflow.backfill.snapshot``: the snapshot's identity and time, the event of one item.
- ``claimflow.backfill.export``: DynamoDB export to S3 (``ExportTableToPointInTime``, DYNAMODB_JSON): manifests and
  one data file -> change events.
- ``claimflow.backfill.scan``: a rate-limited, resumable parallel Scan for tables without point-in-time recovery.

This package knows DynamoDB and the change-event contract only; landing the events in Snowflake (claim rows, the
merge, the full refresh) is the command line's and the NiFi flow's job.
"""
