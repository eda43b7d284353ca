"""The dispatch tables: for each event-driven Lambda of app.py, what runs for what.

- the table's stream: item type -> its reactions, in order (`stream_reactions`);
- each SQS queue: message kind -> its handler (`steps_routes`, `jobs_routes`,
  `imports_routes`, `webhooks_routes`), and the paged jobs' kinds -> what a page does (`job_kinds`);
- the schedules and SES's topic are plain calls in app.py.

Each table imports its handlers inside its function: only the Lambda that uses a table pays
for its modules at cold start (the API function imports none of them). Built once per
container.
"""

from __future__ import annotations

from functools import cache, partial
from typing import TYPE_CHECKING, Any

from chalicelib.platform.queues import S3_NOTIFICATION, Route, Routes
from chalicelib.platform.streams import Reactions

if TYPE_CHECKING:
    from chalicelib.groups.jobs import Kinds


@cache
def stream_reactions() -> Reactions:
    # cold start: the stream Lambda only
    from chalicelib.campaigns import enrollment, launch
    from chalicelib.contacts import activity, engagement
    from chalicelib.groups import memberships, stats
    from chalicelib.scoring import events as scoring
    from chalicelib.segments import membership as rule_groups
    from chalicelib.webhooks import events as webhooks

    # webhooks.on_change last: the outbox of each item type that has events (and, for
    # "Webhook", forgetting the endpoints cached for the workspace).
    return {
        "Membership": (
            stats.membership_changed,
            memberships.membership_inserted,
            enrollment.on_membership,
            rule_groups.membership_changed,
            activity.on_membership,
            webhooks.on_change,
        ),
        "Contact": (
            memberships.contact_changed,
            rule_groups.contact_changed,
            scoring.on_contact,
            enrollment.on_contact,
            activity.on_contact,
            engagement.on_contact,
            webhooks.on_change,
        ),
        "Campaign": (launch.on_campaign,),
        "Enrollment": (activity.on_enrollment, webhooks.on_change),
        "Activity": (engagement.on_activity, scoring.on_activity, webhooks.on_change),
        "Import": (webhooks.on_change,),
        "Webhook": (webhooks.on_change,),
    }


@cache
def steps_routes() -> Routes:
    """The steps queue: one step of one enrollment."""
    # cold start: the steps Lambda only
    from chalicelib.campaigns import step_messages, step_runner

    return {step_messages.STEP_KIND: Route(step_runner.on_step_message)}


@cache
def jobs_routes() -> Routes:
    """The jobs queue: pages of paged jobs, the campaigns' and groups' own upkeep, and the
    timed work of scoring, rule groups and imports' deadlines."""
    # cold start: the jobs Lambda only
    from chalicelib.campaigns import launch
    from chalicelib.contacts import engagement_backfill
    from chalicelib.exchange import import_start, imports
    from chalicelib.groups import jobs, upkeep
    from chalicelib.scoring import awards, recompute
    from chalicelib.segments import membership as rule_groups
    from chalicelib.segments import recheck

    return {
        rule_groups.BUILD_KIND: Route(rule_groups.on_build_message),
        awards.EXPIRE_KIND: Route(awards.on_expire_message),
        recompute.RECOMPUTE_KIND: Route(recompute.on_message),
        engagement_backfill.KIND: Route(engagement_backfill.on_message),
        recheck.RECHECK_KIND: Route(recheck.on_recheck_message),
        jobs.MESSAGE_KIND: Route(partial(_job_page, kinds=job_kinds()), on_last_failure=jobs.page_failed),
        upkeep.CONFIRM_KIND: Route(upkeep.confirm_repair),
        launch.RELEASE_KIND: Route(launch.release_parked),
        launch.PURGE_KIND: Route(launch.purge),
        imports.DEADLINE_KIND: Route(import_start.on_deadline),
    }


@cache
def imports_routes() -> Routes:
    """The imports queue: S3's notices of uploaded files, the steps of imports, exports and
    database syncs' runs."""
    # cold start: the imports Lambda only
    from chalicelib.exchange import contact_export, import_start, import_steps, sync_steps, syncs

    return {
        S3_NOTIFICATION: Route(import_start.on_s3_notification),
        import_steps.STEP_KIND: Route(import_steps.on_step_message),
        syncs.STEP_KIND: Route(sync_steps.on_step_message),
        contact_export.STEP_KIND: Route(contact_export.on_step_message),
    }


@cache
def webhooks_routes() -> Routes:
    """The webhooks queue: one attempt of one delivery."""
    # cold start: the webhooks Lambda only
    from chalicelib.webhooks import delivery, service

    return {service.DELIVERY_KIND: Route(delivery.on_message)}


@cache
def job_kinds() -> Kinds:
    """Paged jobs over a group's members (or a filter's matches): kind -> what each page does."""
    # cold start: the jobs Lambda only
    from chalicelib.campaigns import launch
    from chalicelib.flows import contact_bulk, group_actions, group_merge
    from chalicelib.groups import upkeep

    return {
        group_merge.MERGE: group_merge.MERGE_KIND,
        launch.JOB_KIND: launch.ENROLL_KIND,
        group_actions.APPLY_TAGS: group_actions.APPLY_TAGS_KIND,
        group_actions.DELETE_CONTACTS: group_actions.DELETE_CONTACTS_KIND,
        upkeep.MEMBER_CLEANUP: upkeep.MEMBER_CLEANUP_KIND,
        upkeep.REFRESH_GROUP: upkeep.REFRESH_GROUP_KIND,
        upkeep.RECOUNT: upkeep.RECOUNT_KIND,
        # bulk work on a filter's matches: one kind per action, all paged by the search
        **{contact_bulk.kind_name(action): contact_bulk.KIND for action in contact_bulk.ACTIONS},
    }


def _job_page(message: dict[str, Any], attempt: int, *, kinds: Kinds) -> None:
    from chalicelib.groups import jobs  # cold start: the jobs Lambda only

    jobs.run_page_message(message, kinds)
