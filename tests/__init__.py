from . import test_backend
from . import test_capture
from . import test_delivery
from . import test_errors
from . import test_field_mapping
from . import test_security
from . import test_backfill
