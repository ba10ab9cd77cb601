"""install and uninstall, the pure parts: what to do (plan.py) and what install recorded (inventory.py).

The manifests themselves are core/manifests.py (parse, validate, order, rewrite) and the pinned releases
core/releases.py; the shell that applies and waits is metallb_plugin/installer.py.
"""
