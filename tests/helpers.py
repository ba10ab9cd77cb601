"""Running the plugin the way a user does: as a separate process, checking exit code and streams."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_plugin(*args, env=None, input=None, timeout=120):
    """Run `kubectl-metallb ARGS` in a fresh interpreter; never lets a traceback pass unnoticed."""
    full_env = dict(os.environ)
    full_env.pop("KUBECONFIG", None)
    full_env.update(env or {})
    result = subprocess.run([sys.executable, "-m", "metallb_plugin", *args], cwd=REPO, env=full_env,
                            input=input, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def run_plugin_on_terminal(*args, answer, env=None, timeout=120):
    """Run the plugin with a terminal as stdin (so it asks), type answer; (exit code, stdout, stderr)."""
    import pty

    leader, follower = pty.openpty()
    full_env = dict(os.environ)
    full_env.pop("KUBECONFIG", None)
    full_env.update(env or {})
    with subprocess.Popen([sys.executable, "-m", "metallb_plugin", *args], cwd=REPO, env=full_env, stdin=follower,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        os.close(follower)
        os.write(leader, answer.encode())
        out, err = proc.communicate(timeout=timeout)
    os.close(leader)
    assert "Traceback" not in err, err
    return proc.returncode, out, err


def interrupt_at_prompt(*args, env=None, timeout=120):
    """Run the plugin with a terminal as stdin, wait for its question ("[y/N] "), then press Ctrl-C (SIGINT).

    (exit code, stdout, stderr, whether it asked); a plugin that ends without asking is not interrupted.
    """
    import pty
    import select
    import signal
    import time

    leader, follower = pty.openpty()
    full_env = dict(os.environ)
    full_env.pop("KUBECONFIG", None)
    full_env.update(env or {})
    proc = subprocess.Popen([sys.executable, "-m", "metallb_plugin", *args], cwd=REPO, env=full_env, stdin=follower,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(follower)
    err, deadline = b"", time.monotonic() + timeout
    try:
        while b"[y/N] " not in err and proc.poll() is None:
            assert time.monotonic() < deadline, "the plugin neither asked nor ended"
            if select.select([proc.stderr], [], [], 0.2)[0]:
                err += os.read(proc.stderr.fileno(), 65536)
        asked = b"[y/N] " in err
        if asked:
            proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=timeout)
    finally:
        os.close(leader)
    err = (err + rest).decode()
    assert "Traceback" not in err, err
    return proc.returncode, out.decode(), err, asked
