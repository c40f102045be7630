# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "ESP Sync (Klaviyo, Mailchimp, Dotdigital)",
    "summary": "Odoo as master of customers, orders, fulfilments, refunds and "
    "consent in Klaviyo, Mailchimp and Dotdigital",
    "version": "18.0.1.0.0",
    "category": "Marketing",
    "website": "https://github.com/esp-sync/esp_sync",
    "author": "esp_sync developers",
    "maintainers": ["esp-sync"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "application": True,
    "installable": True,
    "depends": ["mail", "sale_stock", "account", "queue_job"],
    "external_dependencies": {"python": ["requests", "pydantic"]},
    "data": [
        "security/esp_sync_security.xml",
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "views/esp_backend_views.xml",
        "views/esp_field_mapping_views.xml",
        "views/esp_sync_event_views.xml",
        "views/esp_sync_binding_views.xml",
        "views/esp_sync_exception_views.xml",
        "views/res_partner_views.xml",
        "views/sale_order_views.xml",
        "views/res_config_settings_views.xml",
        "views/menus.xml",
    ],
    "demo": ["demo/esp_backend_demo.xml"],
}
