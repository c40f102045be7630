from . import esp_backfill_wizard
