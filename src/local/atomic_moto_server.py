"""moto_server with DynamoDB's and S3's conditional writes made atomic.

moto evaluates a DynamoDB ConditionExpression (and an S3 If-None-Match) and then applies the
write without a lock, and moto_server serves requests on many threads. Two overlapping
conditional writes can therefore both succeed, which real DynamoDB and S3 never allow. The
extract's lease and watermark rely on exactly that guarantee, so this launcher serialises the
requests that carry a condition; everything else (SQS long polls included) stays concurrent.

Usage: python3 atomic_moto_server.py [-H HOST] [-p PORT]
"""
import argparse
import os
import threading

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

_conditional_write_lock = threading.Lock()


def _is_conditional_write(environ):
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target.startswith("DynamoDB_") or "HTTP_IF_NONE_MATCH" in environ


class SerialiseConditionalWrites:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if not _is_conditional_write(environ):
            return self.app(environ, start_response)
        with _conditional_write_lock:
            # Materialise the body inside the lock: the write happens while it is produced.
            return list(self.app(environ, start_response))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, SerialiseConditionalWrites(app), threaded=True)


if __name__ == "__main__":
    main()
