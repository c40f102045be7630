"""Dotdigital asynchronous imports: contacts v3 and insight data v3."""

from ..base import BulkJob, EspError
from ..events import ConsentStatus, EventKind
from . import const, payloads

_KIND_ORDER = list(EventKind)


class BulkMixin:
    """Bulk imports (needs ``_request`` and the contact/order builders)."""

    def _bulk_channel(self, profile):
        """Email channel of one import row.

        An import cannot tell new contacts from existing ones, and its merge
        options only govern data fields. So an Odoo opt-in sends NO status:
        Dotdigital subscribes a new contact and leaves an existing one's status
        alone (an unsubscribe made in Dotdigital survives the backfill).
        """
        consent = profile.consent
        if _opted_in(profile):
            extra = self.settings.extra
            return payloads.ChannelProperties(
                email=payloads.EmailChannel(
                    optInType=extra.get("opt_in_type", const.OPT_IN_TYPE)
                )
            )
        channel = self._channel(consent)
        if channel is not None:
            return channel
        # No Odoo opt-in: the backend's never-opted-in state (neutral: no
        # status, so new contacts take Dotdigital's default outside the
        # marketing address book and existing ones keep theirs).
        return self._never_opted_in_channel()

    def bulk_import_profiles(self, profiles):
        """Start a contacts import; rows that cannot be built fail locally."""
        self._start()
        if len(profiles) > const.IMPORT_MAX_CONTACTS:
            raise ValueError(f"at most {const.IMPORT_MAX_CONTACTS} contacts per import")
        rows, errors, names = [], [], set()
        for profile in profiles:
            try:
                email = self._email(profile.email)
                row = payloads.ContactUpdate(
                    matchIdentifier="email",
                    identifiers=payloads.Identifiers(email=email),
                    dataFields=self._data_fields(profile) or None,
                    lists=self._marketing_lists(profile.consent),
                    channelProperties=self._bulk_channel(profile),
                    consentRecords=self._consent_records(profile.consent),
                )
            except EspError as error:
                errors.append((profile.email, error.message))
                continue
            rows.append(row)
            names.update(row.data_fields or {})
        if not rows:
            return BulkJob(
                job_id="",
                status="failed",
                total=len(profiles),
                failed=len(errors),
                errors=errors,
            )
        self._ensure_data_fields(names)
        body = payloads.ContactImport(
            mergeOption=const.IMPORT_MERGE_OPTION, contacts=rows
        ).dump()
        answer = self._request("PUT", const.CONTACT_IMPORT, json=body)
        return BulkJob(
            job_id=f"{const.JOB_CONTACTS}:{answer.get('importId', '')}",
            status="queued",
            total=len(profiles),
            failed=len(errors),
            errors=errors,
        )

    def bulk_send_events(self, events):
        """Start an Orders insight import: one record per order, latest state.

        Errors come back keyed by order id (the record key).
        """
        self._start()
        grouped = {}
        for event in events:
            grouped.setdefault(str(event.order.order_id), []).append(event)
        records, errors = [], []
        for group in grouped.values():
            group.sort(key=lambda e: _KIND_ORDER.index(EventKind(e.kind)))
            last = group[-1]
            try:
                record = self._order_record(last, {EventKind(e.kind) for e in group})
            except EspError as error:
                errors.append((str(last.order.order_id), error.message))
                continue
            records.append(
                payloads.InsightRecord(
                    key=record["id"],
                    contactIdentity=payloads.ContactIdentity(value=record["email"]),
                    json=record,
                )
            )
        if not records:
            return BulkJob(
                job_id="",
                status="failed",
                total=len(grouped),
                failed=len(errors),
                errors=errors,
            )
        body = payloads.InsightImport(
            collectionName=self._orders_collection(),
            collectionScope="contact",
            collectionType=const.ORDERS_COLLECTION_TYPE,
            records=records,
        ).dump()
        answer = self._request("PUT", const.INSIGHT_IMPORT, json=body)
        return BulkJob(
            job_id=f"{const.JOB_INSIGHT}:{answer.get('importId', '')}",
            status="queued",
            total=len(grouped),
            failed=len(errors),
            errors=errors,
        )

    def get_bulk_job(self, job):
        """Poll an import; when done, collect its per-record failures."""
        self._start()
        kind, _sep, import_id = job.job_id.partition(":")
        if not import_id:
            return job
        template = (
            const.CONTACT_IMPORT_STATUS
            if kind == const.JOB_CONTACTS
            else const.INSIGHT_IMPORT_STATUS
        )
        answer = self._request("GET", template.format(import_id=import_id))
        status = const.IMPORT_STATUS.get(answer.get("status"), "processing")
        errors = list(job.errors)
        summary = answer.get("summary") or {}
        if kind == const.JOB_CONTACTS:
            remote = [
                (
                    (f.get("identifiers") or {}).get("email", ""),
                    "; ".join(
                        x.get("description") or x.get("failureCode") or ""
                        for x in f.get("failures") or []
                    ),
                )
                for f in answer.get("failures") or []
            ]
            completed = int(summary.get("newContacts") or 0) + int(
                summary.get("updatedContacts") or 0
            )
        else:
            remote = [
                (
                    str(f.get("key", "")),
                    "; ".join(
                        [str(f.get("failureReason") or "")]
                        + [str(d) for d in f.get("details") or []]
                    ).strip("; "),
                )
                for f in answer.get("failures") or []
            ]
            completed = int(summary.get("totalImported") or 0)
        errors.extend(remote)
        if status == "failed" and not remote:
            errors.append(("", f"Dotdigital import {answer.get('status')}"))
        return BulkJob(
            job_id=job.job_id,
            status=status,
            total=job.total,
            completed=completed,
            failed=len(job.errors) + len(remote),
            errors=errors,
        )


def _opted_in(profile):
    """Whether Odoo holds an opt-in for ``profile`` (and no blacklist)."""
    consent = profile.consent
    return (
        consent is not None
        and not consent.suppressed
        and ConsentStatus(consent.status) == ConsentStatus.SUBSCRIBED
    )
