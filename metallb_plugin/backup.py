"""Backup files: every write that replaces or removes cluster state saves what was there first.

A backup is created, never overwritten (O_EXCL, so a file that appears between a check and the write is not
clobbered either), and readable by its owner only (0600): BGP passwords and configuration end up in it.
"""

import os

from metallb_plugin import errors


def write_backup(path: str, text: str, flag: str = "--backup", rewrite: bool = False) -> None:
    """Write text to a new file at path; rewrite=True replaces a backup this run created itself.

    UsageError when the file exists or cannot be created (the caller has changed nothing yet).
    """
    mode = os.O_WRONLY | (os.O_TRUNC if rewrite else os.O_CREAT | os.O_EXCL)
    try:
        fd = os.open(path, mode, 0o600)
    except FileExistsError:
        raise errors.UsageError(f"{flag} {path}: the file exists; choose a new file name") from None
    except OSError as exc:
        raise errors.UsageError(f"{flag} {path}: {exc.strerror or exc}; nothing was changed") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
