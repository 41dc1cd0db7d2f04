from tests.conversions.imports.conftest import (  # noqa: F401 -- fixtures
    import_media_root,
    import_validated,
)
