"""`kubectl metallb report`, its pure parts: contents.py (what is read and where it goes in the archive),
redact.py (what must not be written) and manifest.py (the archive's own record). The shell is reporter.py."""
