"""The laptop stack: an embedded PostgreSQL and moto's S3 server (``local``), a
realistic Terrific Totes bucket (``sample``) and ``make demo`` (``demo``).

Needs the ``local`` extra and is left out of the Lambda zip. Only the
command line's ``demo`` command and the tests import it.
"""
