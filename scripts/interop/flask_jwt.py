#!/usr/bin/env python3
"""The real Flask-JWT-Extended, driven by crates/jwt-extended/tests/interop.rs.

Every command prints one JSON document on stdout. The Flask app is configured from
`--config` (a JSON object of JWT_* keys); `JWT_PRIVATE_KEY` / `JWT_PUBLIC_KEY` values that
name a file are read from it.

  flask_jwt.py versions
  flask_jwt.py mint     --config CFG --identity ID [--fresh-seconds N] [--expires-seconds N]
  flask_jwt.py decode   --config CFG --token T [--csrf V] [--allow-expired]
  flask_jwt.py cookies  --config CFG --token T [--refresh]
  flask_jwt.py unset    --config CFG [--refresh] [--domain D]
  flask_jwt.py requests --config CFG   < [{"method", "path", "headers", "body"}, ...]
"""

import argparse
import json
import os
import sys
import warnings
from datetime import timedelta
from importlib.metadata import version

from flask import Flask, jsonify, make_response
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    decode_token,
    get_jwt,
    get_jwt_identity,
    get_jwt_request_location,
    get_unverified_jwt_headers,
    jwt_required,
    set_access_cookies,
    set_refresh_cookies,
    unset_access_cookies,
    unset_refresh_cookies,
)


# The tests use short HMAC secrets on purpose (the same ones as the Rust side).
warnings.filterwarnings("ignore", message="The HMAC key is")


def make_app(config):
    app = Flask(__name__)
    # A 500 is part of the answer being compared, not a reason to print a traceback.
    app.logger.disabled = True
    for key, value in config.items():
        if key in ("JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY") and os.path.isfile(value):
            with open(value) as f:
                value = f.read()
        app.config[key] = value
    JWTManager(app)

    def describe():
        return jsonify(
            sub=get_jwt_identity(),
            location=get_jwt_request_location(),
            type=get_jwt()["type"],
        )

    # OPTIONS is left to Flask's automatic answer (200, empty body): a view that reads the
    # token after `@jwt_required()` lets an OPTIONS request through and then fails in get_jwt().
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    @app.route("/protected", methods=methods)
    @jwt_required()
    def protected():
        return describe()

    @app.route("/optional", methods=methods)
    @jwt_required(optional=True)
    def optional():
        if get_jwt_identity() is None:
            return jsonify(sub=None)
        return describe()

    @app.route("/fresh", methods=methods)
    @jwt_required(fresh=True)
    def fresh():
        return describe()

    @app.route("/refresh", methods=methods)
    @jwt_required(refresh=True)
    def refresh():
        return describe()

    return app


def error(e):
    return {"ok": False, "error": type(e).__name__, "msg": str(e)}


def cmd_versions(_args, _config):
    return {
        name: version(name)
        for name in ("flask-jwt-extended", "pyjwt", "flask", "werkzeug", "cryptography")
    }


def cmd_mint(args, config):
    app = make_app(config)
    with app.app_context():
        fresh = timedelta(seconds=args.fresh_seconds) if args.fresh_seconds else False
        expires = timedelta(seconds=args.expires_seconds) if args.expires_seconds else None
        access = create_access_token(identity=args.identity, fresh=fresh, expires_delta=expires)
        refresh = create_refresh_token(identity=args.identity, expires_delta=expires)
        return {
            "access": access,
            "refresh": refresh,
            # get_csrf_token verifies the token, so it raises on an expired one.
            "access_csrf": decode_token(access, allow_expired=True).get("csrf"),
            "refresh_csrf": decode_token(refresh, allow_expired=True).get("csrf"),
        }


def cmd_decode(args, config):
    app = make_app(config)
    with app.app_context():
        try:
            claims = decode_token(args.token, csrf_value=args.csrf, allow_expired=args.allow_expired)
        except Exception as e:  # noqa: BLE001 - every failure is reported as data
            return error(e)
        return {
            "ok": True,
            "claims": claims,
            "keys": list(claims.keys()),
            "header": get_unverified_jwt_headers(args.token),
        }


def cmd_cookies(args, config):
    app = make_app(config)
    with app.test_request_context():
        response = make_response("")
        setter = set_refresh_cookies if args.refresh else set_access_cookies
        setter(response, args.token)
        return {"set_cookie": response.headers.getlist("Set-Cookie")}


def cmd_unset(args, config):
    app = make_app(config)
    with app.test_request_context():
        response = make_response("")
        unsetter = unset_refresh_cookies if args.refresh else unset_access_cookies
        unsetter(response, domain=args.domain)
        return {"set_cookie": response.headers.getlist("Set-Cookie")}


def cmd_requests(_args, config):
    app = make_app(config)
    # Without its own cookie jar, so that the `Cookie` header of a case is sent as is.
    client = app.test_client(use_cookies=False)
    replies = []
    for case in json.load(sys.stdin):
        kwargs = {"method": case["method"], "headers": case.get("headers", [])}
        if case.get("body") is not None:
            kwargs["data"] = case["body"]
        response = client.open(case["path"], **kwargs)
        body = response.get_data(as_text=True)
        try:
            body = json.loads(body) if body else None
        except ValueError:
            body = {"not_json": body[:200]}
        replies.append({"status": response.status_code, "body": body})
    return replies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "command", choices=["versions", "mint", "decode", "cookies", "unset", "requests"]
    )
    parser.add_argument("--config", default="{}")
    parser.add_argument("--identity", default="alice")
    parser.add_argument("--fresh-seconds", type=int, default=0)
    parser.add_argument("--expires-seconds", type=int, default=0)
    parser.add_argument("--domain")
    parser.add_argument("--token")
    parser.add_argument("--csrf")
    parser.add_argument("--allow-expired", action="store_true")
    parser.add_argument("--refresh", action="store_true")
    args = parser.parse_args()
    config = json.loads(args.config)
    command = globals()["cmd_" + args.command]
    json.dump(command(args, config), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
