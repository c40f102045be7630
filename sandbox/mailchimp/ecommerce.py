"""Mailchimp e-commerce: stores, customers, products and variants, orders.

Customers join the store's audience (``transactional`` unless opted in) and
an order line must name an existing product and variant, as in the real API.
"""

from .common import ApiError, not_found, page, subscriber_hash, webhook_kind


class EcommerceMixin:
    """E-commerce endpoints of :class:`~sandbox.mailchimp.MailchimpApp`."""

    # -- stores ---------------------------------------------------------------
    def _store(self, request, state):
        store = state["stores"].get(request.path_params["store_id"])
        if store is None:
            raise not_found()
        return store

    def _stores(self, request, state):
        stores = [s["store"] for s in state["stores"].values()]
        return {"stores": page(request, stores), "total_items": len(stores)}

    def _add_store(self, request, state):
        body = request.json or {}
        if body["id"] in state["stores"]:
            raise ApiError(
                400,
                "A store with the provided ID already exists in this account.",
                title="Bad Request",
            )
        if body["list_id"] not in state["lists"]:
            raise ApiError(
                400,
                f"The list {body['list_id']} does not exist in this account.",
                title="Invalid Resource",
                errors=[{"field": "list_id", "message": "unknown list"}],
            )
        now = self._iso()
        store = {"is_syncing": False, **body, "created_at": now, "updated_at": now}
        state["stores"][body["id"]] = {
            "store": store,
            "customers": {},
            "products": {},
            "orders": {},
        }
        return store

    def _get_store(self, request, state):
        return self._store(request, state)["store"]

    def _patch_store(self, request, state):
        store = self._store(request, state)["store"]
        store.update(request.json or {})
        store["updated_at"] = self._iso()
        return store

    def _delete_store(self, request, state):
        self._store(request, state)
        del state["stores"][request.path_params["store_id"]]

    # -- customers ------------------------------------------------------------
    def _upsert_customer(self, state, store, body, customer_id):
        customers = store["customers"]
        customer = customers.get(customer_id)
        now = self._iso()
        if customer is None:
            email = body.get("email_address") or ""
            self._check_email(email)
            body = {"opt_in_status": False, **body}
            customer = {
                "id": customer_id,
                "orders_count": 0,
                "total_spent": 0,
                "created_at": now,
            }
            customers[customer_id] = customer
            self._customer_member(state, store["store"]["list_id"], body)
        customer.update({k: v for k, v in body.items() if k != "id"})
        customer["updated_at"] = now
        return customer

    def _customer_member(self, state, list_id, body):
        """Add the customer to the audience unless it is already a member."""
        hash_ = subscriber_hash(body["email_address"])
        forgotten = state.get("forgotten", {}).get(list_id, [])
        if hash_ in state["members"][list_id] or hash_ in forgotten:
            return
        status = "subscribed" if body.get("opt_in_status") else "transactional"
        member = self._new_member(
            state,
            list_id,
            {
                "email_address": body["email_address"],
                "merge_fields": {
                    "FNAME": body.get("first_name", ""),
                    "LNAME": body.get("last_name", ""),
                },
            },
            status,
        )
        self._fire(state, list_id, webhook_kind(status), "api", member)

    def _customers(self, request, state):
        customers = list(self._store(request, state)["customers"].values())
        return {"customers": page(request, customers), "total_items": len(customers)}

    def _add_customer(self, request, state):
        store = self._store(request, state)
        body = request.json or {}
        if body.get("id") in store["customers"]:
            raise ApiError(
                400,
                "A customer with the provided ID already exists.",
                title="Bad Request",
            )
        return self._upsert_customer(state, store, body, body.get("id", ""))

    def _get_customer(self, request, state):
        store = self._store(request, state)
        customer = store["customers"].get(request.path_params["customer_id"])
        if customer is None:
            raise not_found()
        return customer

    def _put_customer(self, request, state):
        store = self._store(request, state)
        body = request.json or {}
        customer_id = request.path_params["customer_id"]
        if body.get("id") not in (None, customer_id):
            raise ApiError(
                400,
                "The customer id in the body does not match the URL.",
                title="Bad Request",
            )
        return self._upsert_customer(state, store, body, customer_id)

    def _patch_customer(self, request, state):
        customer = self._get_customer(request, state)
        customer.update({k: v for k, v in (request.json or {}).items() if k != "id"})
        customer["updated_at"] = self._iso()
        return customer

    # -- products -------------------------------------------------------------
    def _save_product(self, store, body, product_id, replace):
        now = self._iso()
        old = store["products"].get(product_id)
        variants = body.get("variants")
        if not variants and old is None:
            variants = [{"id": product_id, "title": body.get("title", "")}]
        product = (
            dict(old or {"created_at": now})
            if not replace
            else {"created_at": (old or {}).get("created_at", now)}
        )
        product.update(body)
        product["id"] = product_id
        if variants is not None:
            product["variants"] = [dict(v) for v in variants]
        product["updated_at"] = now
        store["products"][product_id] = product
        return product

    def _products(self, request, state):
        products = list(self._store(request, state)["products"].values())
        return {"products": page(request, products), "total_items": len(products)}

    def _add_product(self, request, state):
        store = self._store(request, state)
        body = request.json or {}
        if body["id"] in store["products"]:
            raise ApiError(
                400,
                "A product with the provided ID already exists.",
                title="Bad Request",
            )
        return self._save_product(store, body, body["id"], True)

    def _get_product(self, request, state):
        store = self._store(request, state)
        product = store["products"].get(request.path_params["product_id"])
        if product is None:
            raise not_found()
        return product

    def _put_product(self, request, state):
        store = self._store(request, state)
        return self._save_product(
            store, request.json or {}, request.path_params["product_id"], True
        )

    def _patch_product(self, request, state):
        self._get_product(request, state)
        store = self._store(request, state)
        return self._save_product(
            store, request.json or {}, request.path_params["product_id"], False
        )

    def _delete_product(self, request, state):
        self._get_product(request, state)
        del self._store(request, state)["products"][request.path_params["product_id"]]

    def _variants(self, request, state):
        variants = self._get_product(request, state)["variants"]
        return {"variants": page(request, variants), "total_items": len(variants)}

    def _find_variant(self, request, state):
        product = self._get_product(request, state)
        wanted = request.path_params["variant_id"]
        for index, variant in enumerate(product["variants"]):
            if variant.get("id") == wanted:
                return product, index
        return product, None

    def _add_variant(self, request, state):
        product = self._get_product(request, state)
        body = request.json or {}
        if any(v.get("id") == body.get("id") for v in product["variants"]):
            raise ApiError(
                400,
                "A variant with the provided ID already exists.",
                title="Bad Request",
            )
        product["variants"].append(dict(body))
        product["updated_at"] = self._iso()
        return body

    def _get_variant(self, request, state):
        product, index = self._find_variant(request, state)
        if index is None:
            raise not_found()
        return product["variants"][index]

    def _put_variant(self, request, state):
        product, index = self._find_variant(request, state)
        body = {**(request.json or {}), "id": request.path_params["variant_id"]}
        if index is None:
            product["variants"].append(body)
        else:
            product["variants"][index] = body
        product["updated_at"] = self._iso()
        return body

    def _patch_variant(self, request, state):
        product, index = self._find_variant(request, state)
        if index is None:
            raise not_found()
        product["variants"][index].update(request.json or {})
        product["variants"][index]["id"] = request.path_params["variant_id"]
        product["updated_at"] = self._iso()
        return product["variants"][index]

    def _delete_variant(self, request, state):
        product, index = self._find_variant(request, state)
        if index is None:
            raise not_found()
        del product["variants"][index]

    # -- orders ---------------------------------------------------------------
    def _check_lines(self, store, lines):
        for line in lines or []:
            product = store["products"].get(line.get("product_id"))
            if product is None:
                raise ApiError(
                    400,
                    "A product with the provided ID does not exist in the account "
                    "for this list.",
                    title="Bad Request",
                )
            variant_ids = {v.get("id") for v in product.get("variants", [])}
            if line.get("product_variant_id") not in variant_ids:
                raise ApiError(
                    400,
                    "A product with the provided variant ID does not exist in the "
                    "account for this list.",
                    title="Bad Request",
                )

    def _orders(self, request, state):
        orders = list(self._store(request, state)["orders"].values())
        customer_id = request.arg("customer_id")
        if customer_id:
            orders = [o for o in orders if o["customer"]["id"] == customer_id]
        return {"orders": page(request, orders), "total_items": len(orders)}

    def _add_order(self, request, state):
        store = self._store(request, state)
        body = request.json or {}
        if body["id"] in store["orders"]:
            raise ApiError(
                400,
                "An order with the provided ID already exists.",
                title="Bad Request",
            )
        self._check_lines(store, body.get("lines"))
        customer_body = body.get("customer") or {}
        customer_id = customer_body.get("id", "")
        if customer_id not in store["customers"] and not customer_body.get(
            "email_address"
        ):
            raise ApiError(
                400,
                "A new customer needs an email_address.",
                title="Invalid Resource",
                errors=[{"field": "customer.email_address", "message": "required"}],
            )
        customer = self._upsert_customer(state, store, customer_body, customer_id)
        customer["orders_count"] = customer.get("orders_count", 0) + 1
        customer["total_spent"] = round(
            float(customer.get("total_spent") or 0) + float(body["order_total"]), 2
        )
        now = self._iso()
        order = {
            "financial_status": "",
            "fulfillment_status": "",
            **body,
            "customer": dict(customer),
            "store_id": store["store"]["id"],
            "created_at": now,
            "updated_at": now,
        }
        store["orders"][body["id"]] = order
        return order

    def _get_order(self, request, state):
        store = self._store(request, state)
        order = store["orders"].get(request.path_params["order_id"])
        if order is None:
            raise not_found()
        return order

    def _patch_order(self, request, state):
        order = self._get_order(request, state)
        store = self._store(request, state)
        body = dict(request.json or {})
        if body.get("lines"):
            self._check_lines(store, body["lines"])
            by_id = {line["id"]: line for line in order.get("lines", [])}
            for line in body.pop("lines"):
                by_id[line["id"]] = {**by_id.get(line["id"], {}), **line}
            order["lines"] = list(by_id.values())
        body.pop("id", None)
        body.pop("customer", None)
        order.update(body)
        order["updated_at"] = self._iso()
        return order

    def _delete_order(self, request, state):
        self._get_order(request, state)
        del self._store(request, state)["orders"][request.path_params["order_id"]]
