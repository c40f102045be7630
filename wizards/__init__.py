from . import esp_backfill_wizard
from . import esp_sync_exception_ignore
from . import esp_sync_preview
from . import esp_reconcile_ignore
