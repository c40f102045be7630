"""ESP-side actions on Klaviyo (``sb.action("klaviyo", ...)``) and their webhooks."""

from .common import METRIC_NAMES, SUPPRESSION_REASONS, TOPICS


class ActionsMixin:
    """Unsubscribe, suppress and confirm in Klaviyo as a person or Klaviyo would."""

    def actions(self):
        """ESP-side changes a test can trigger (they fire webhooks)."""
        return {
            "unsubscribe": self.action_unsubscribe,
            "suppress": self.action_suppress,
            "confirm_opt_in": self.action_confirm_opt_in,
            "sms_stop": self.action_sms_stop,
            "drop_order_event": self.action_drop_order_event,
            "set_order_event_value": self.action_set_order_event_value,
        }

    def _targets(self, email, account, create):
        """``[(account_key, state, profile)]`` the action applies to."""
        keys = [account] if account else list(self.accounts)
        found = []
        for key in keys:
            state = self.account_state(key)
            profile = self._profile_by_email(
                state, email, create=bool(account) and create
            )
            if profile is not None:
                found.append((key, state, profile))
        if not found:
            raise KeyError(f"no Klaviyo profile with email {email!r}")
        return found

    def _system_event(self, state, profile, topic, properties):
        event = self._record_event(
            state,
            profile,
            {"properties": properties, "unique_id": self._new_id()},
            METRIC_NAMES[topic],
        )
        self._fire(state, topic, profile, event)
        return event

    def action_unsubscribe(
        self, email, account=None, method="PREFERENCE_PAGE", list_id=None
    ):
        """The person unsubscribes in Klaviyo (from one list, or globally)."""
        with self.lock:
            done = []
            for key, state, profile in self._targets(email, account, create=True):
                if list_id:
                    self._unsubscribe_from_list(profile, list_id)
                else:
                    self._set_unsubscribed(profile, "email", method=method)
                self._system_event(
                    state,
                    profile,
                    TOPICS["unsubscribe"],
                    {"method": method, "list_id": list_id},
                )
                done.append({"account": key, "profile_id": profile["id"]})
            return {"unsubscribed": email.lower(), "profiles": done}

    def action_sms_stop(self, email, account=None):
        """The person replies STOP to a text: SMS marketing unsubscribed (the
        email channel is untouched; no webhook, the poll reads it)."""
        with self.lock:
            done = []
            for key, _state, profile in self._targets(email, account, create=False):
                self._set_unsubscribed(profile, "sms", method="INBOUND_MESSAGE")
                done.append({"account": key, "profile_id": profile["id"]})
            return {"sms_unsubscribed": email.lower(), "profiles": done}

    def action_suppress(self, email, reason="USER_SUPPRESSED", account=None):
        """Klaviyo suppresses the address (bounce, spam report, manual)."""
        if reason not in SUPPRESSION_REASONS:
            raise ValueError(f"reason must be one of {SUPPRESSION_REASONS}")
        with self.lock:
            done = []
            for key, state, profile in self._targets(email, account, create=True):
                self._suppress_email(state, profile["email"], reason)
                topic = TOPICS.get(reason, TOPICS["USER_SUPPRESSED"])
                self._system_event(state, profile, topic, {"reason": reason})
                done.append({"account": key, "profile_id": profile["id"]})
            return {"suppressed": email.lower(), "reason": reason, "profiles": done}

    def action_confirm_opt_in(self, email, account=None):
        """The person clicks the double opt-in confirmation link."""
        with self.lock:
            done = []
            for key, state, profile in self._targets(email, account, create=False):
                if not profile["pending_lists"]:
                    continue  # nothing awaits confirmation (or it was voided)
                for list_id in sorted(profile["pending_lists"]):
                    target = state["lists"].get(list_id)
                    profile["lists"].add(list_id)
                    self._set_subscribed(
                        profile, "email", None, "double opt-in", target
                    )
                profile["pending_lists"].clear()
                self._system_event(
                    state, profile, TOPICS["subscribe"], {"method": "double_opt_in"}
                )
                done.append({"account": key, "profile_id": profile["id"]})
            return {"confirmed": email.lower(), "profiles": done}

    def _order_events(self, order_id, metric, account):
        """``[(state, event)]`` of ``metric`` whose OrderId is ``order_id``."""
        keys = [account] if account else list(self.accounts)
        found = []
        for key in keys:
            state = self.account_state(key)
            for event in state["events"]:
                if event["metric"] == metric and str(
                    event["properties"].get("OrderId")
                ) == str(order_id):
                    found.append((state, event))
        if not found:
            raise KeyError(f"no {metric!r} event for order {order_id!r}")
        return found

    def action_drop_order_event(self, order_id, metric="Placed Order", account=None):
        """Drift: the order's event never arrived (removed, its id forgotten)."""
        with self.lock:
            found = self._order_events(order_id, metric, account)
            for state, event in found:
                state["events"].remove(event)
                state["event_keys"].discard(
                    (event["profile_id"], event["metric_id"], event["unique_id"])
                )
            return {"dropped": len(found)}

    def action_set_order_event_value(
        self, order_id, value, metric="Refunded Order", account=None
    ):
        """Drift: the order's event carries a wrong value (e.g. refund amount)."""
        with self.lock:
            found = self._order_events(order_id, metric, account)
            for _state, event in found:
                event["value"] = value
            return {"changed": len(found)}

    # == inspection =============================================================
