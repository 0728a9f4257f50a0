"""A Redis URL as it may be shown: in logs, errors and start lines (no redis import here, so
the command line can name a URL without loading the client library)."""

from __future__ import annotations

import re

#: ``scheme://user:password@`` -> the password, in a URL's authority.
_PASSWORD = re.compile(r"^(?P<head>[a-z+]+://[^:/@]*:)(?P<secret>[^@]*)(?P<at>@)", re.I)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<secret>[^&]*)", re.I)


def masked(url: str) -> str:
    """The URL with any password in it shown as ``***`` (``redis://:***@host:6379/0``)."""
    url = _PASSWORD.sub(r"\g<head>***\g<at>", url)
    return _QUERY_PASSWORD.sub(r"\g<head>***", url)
