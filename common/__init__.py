"""What both apps share and the project wires in: API permissions and plumbing, queue names.

May import Django and DRF, never ``evalsite``, ``generation`` or ``ratings``."""
