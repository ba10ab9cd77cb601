"""Downloads of release manifests: HTTPS only (unless allowed), no redirect down to http://, a size limit,
proxies from the environment (urllib honours HTTPS_PROXY / NO_PROXY), progress on a terminal."""

from metallb_plugin import defaults, errors


def _redirect_handler(allow_http):
    """A urllib redirect handler that will not follow a redirect from https:// down to http://."""
    import urllib.request

    class Handler(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            if newurl.startswith("http://") and not allow_http:
                raise errors.PluginError(
                    f"{req.full_url} redirects to {newurl}, which is not HTTPS; refusing (pass --insecure to allow it)"
                )
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return Handler()


def download(url, ctx, allow_http=False, timeout=0.0):
    """The body of url over HTTPS (HTTPS_PROXY / NO_PROXY honoured by urllib); progress on a terminal only."""
    import ssl
    import urllib.error
    import urllib.request

    from metallb_plugin.core import manifests

    if url.startswith("http://") and not allow_http:
        raise errors.UsageError(
            f"{url} is plain http://: anyone on the path could change it. Use https://, or "
            "pass --insecure (and --sha256) if you must"
        )
    opener = urllib.request.build_opener(_redirect_handler(allow_http))
    request = urllib.request.Request(url, headers={"User-Agent": defaults.USER_AGENT})
    progress = ctx.progress()
    show = progress.live
    try:
        with opener.open(request, timeout=timeout or defaults.DOWNLOAD_TIMEOUT) as response:
            total = int(response.headers.get("Content-Length") or 0)
            chunks, size = [], 0
            while True:
                chunk = response.read(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > manifests.MAX_BYTES:
                    raise errors.PluginError(
                        f"{url} is larger than {manifests.MAX_BYTES} bytes: not a MetalLB manifest"
                    )
                chunks.append(chunk)
                if show:
                    of = f" / {total // 1024} KiB" if total else ""
                    progress.update(f"downloading {url}: {size // 1024} KiB{of}")
            if show:
                progress.done()
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise errors.PluginError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise errors.PluginError(
                f"downloading {url} failed: the server's certificate is not trusted "
                f"({reason.verify_message}); set SSL_CERT_FILE to your CA bundle if a proxy or "
                "mirror uses its own CA"
            ) from None
        reason = getattr(reason, "strerror", None) or reason
        raise errors.PluginError(
            f"downloading {url} failed: {reason}. Behind a proxy? Set HTTPS_PROXY; "
            "air-gapped? use --manifest FILE --sha256 HEX"
        ) from None
    except (TimeoutError, OSError) as exc:
        raise errors.PluginError(f"downloading {url} failed: {exc}") from None
    finally:
        if show:
            progress.done()
