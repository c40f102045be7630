from . import (
    test_backend,
    test_capture,
    test_delivery,
    test_errors,
    test_field_mapping,
    test_security,
)
