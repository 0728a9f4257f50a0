"""Streaming download of result files: network reads batched into ``<name>.part`` (one
``writev`` per batch in a worker thread), length checked, resumed with ``Range`` (guarded by
``If-Range``) after an interruption, renamed atomically. A partial file never sits under the
final name; memory stays flat.

Few thread hand-offs: one worker call before the request (the folder made, the partial file
and its note looked at, the ``.part`` opened or created), one per batch written while the loop
reads on (a batch goes once it holds ``BATCH`` bytes and the worker is free, so writing
overlaps reading even for a file of a few megabytes), and one that finishes the file (the last
batch written, fsync, close, rename, note removed). A body that fits in one batch costs two
hand-offs in all; one when the download is fresh (the batch engine's, for a task it has just
created: nothing can be there to resume, so the first worker call that writes makes the
``.part``). The pieces read are copied into two reused buffers rather than held, so the
heap does not swing by a batch at a time (see ``Writer``).

Hostile ground is assumed on both sides. The ``.part`` file and its ``.part.json`` note are
opened with ``O_NOFOLLOW`` (and created with ``O_EXCL``), so a symlink or hard link planted at
either name never leads a write outside the output folder: whatever non-directory stands there
is removed first; the file renamed in place is checked to be the one written. A server that
trickles bytes is cut off by ``Timeouts.download_min_rate`` and ``Timeouts.download_total``.
A cancelled download waits for the work its worker thread is doing before the file is closed
(a finishing call told of the cancellation stops short of the sync and the rename), then lets
the cancellation through.

Its parts: ``_fetch`` (the attempts, under ``_retry.retry``, and the HTTP of each), ``_files``
(the ``.part``, its note, the rename: blocking, run in worker threads), ``_thread`` (those
hand-offs), ``_writer`` (the batch buffers) and ``_meter`` (the slow-transfer floor).
"""

from ._fetch import DEFAULT_MAX_BYTES, check_url, download
from ._files import part_path
from ._writer import BATCH, CHUNK

__all__ = ["BATCH", "CHUNK", "DEFAULT_MAX_BYTES", "check_url", "download", "part_path"]
