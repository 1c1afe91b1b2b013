#!/usr/bin/python3
"""
tests/objstore/sigv4_oracle.py — reference SigV4 signatures from botocore
for test_objstore_sigv4 (tests/unit/test_objstore_sigv4.c).

Prints N JSON lines (default 1200), each a random S3 request (seeded, so
runs repeat) and the headers botocore's S3SigV4Auth computes for it at a
fixed timestamp: Authorization, X-Amz-Content-SHA256, X-Amz-Date. The C test
signs the same request with AkiDB's signer and compares byte for byte.

Request bodies are not printed: body[i] = (i + seed) & 255 for `len` bytes.
"""
import datetime
import json
import random
import sys
import types
from urllib.parse import quote

import botocore.auth as ba
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

FIXED = datetime.datetime(2024, 5, 17, 12, 34, 56)


class FixedDateTime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FIXED


ba.datetime = types.SimpleNamespace(datetime=FixedDateTime)

KEY_ALPHABET = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") +
                list(" +=&?#%~!$'()*,;:@[]-._/") + ["é", "日本", "ß", "😀", "Ω", "\u00a0"])
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
ENDPOINTS = ["http://127.0.0.1:9000", "https://s3.eu-west-1.amazonaws.com",
             "https://s3.amazonaws.com:443", "http://localhost:80", "http://[::1]:9000",
             "https://minio.internal:9443"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]
METHODS = ["GET", "PUT", "HEAD", "DELETE", "POST"]


def rand_text(rng, lo, hi):
    return "".join(rng.choice(KEY_ALPHABET) for _ in range(rng.randint(lo, hi)))


def rand_query(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return []
    if kind == 1:
        return [("uploads", "")]
    if kind == 2:
        return [("partNumber", str(rng.randint(1, 10000))),
                ("uploadId", rand_text(rng, 5, 40))]
    if kind == 3:
        q = [("list-type", "2"), ("prefix", rand_text(rng, 0, 20))]
        if rng.random() < 0.5:
            q.append(("continuation-token", rand_text(rng, 10, 60)))
        return q
    if kind == 4:  # repeated names whose values sort differently as text
        name = rng.choice(["a", "x y", "a+b", "Z"])
        return [(name, v) for v in rng.sample(["2", "10", "1", "", "b", "B", "~", "é"], 4)]
    return [(rand_text(rng, 1, 8), rand_text(rng, 0, 12) if rng.random() < 0.7 else "")
            for _ in range(rng.randint(1, 5))]


def rand_headers(rng):
    pool = [("Content-Type", "application/octet-stream"),
            ("content-type", "  text/plain;   charset=utf-8  "),
            ("X-Amz-Meta-Owner", "  team   a\tb  "),
            ("x-amz-meta-empty", ""),
            ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("Range", "bytes=0-1023"),
            ("If-Match", '"9b2cf535f27731c974343645a3985328"'),
            ("x-amz-acl", "private"),
            ("Cache-Control", "no-cache,   no-store"),
            ("X-AMZ-META-MIXED", "Mixed   Case   Value")]
    chosen = rng.sample(pool, rng.randint(0, 5))
    # at most one of each name (repeated names are joined, see the signer)
    seen, out = set(), []
    for n, v in chosen:
        if n.lower() not in seen:
            seen.add(n.lower())
            out.append((n, v))
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1200
    rng = random.Random(20240517)
    for i in range(n):
        endpoint = rng.choice(ENDPOINTS)
        bucket = rng.choice(["akidb", "my-bucket", "b.with.dots"])
        path_style = rng.random() < 0.5 or "[" in endpoint
        key = rand_text(rng, 1, 30) if rng.random() < 0.9 else None
        method = rng.choice(METHODS)
        scheme, rest = endpoint.split("://", 1)
        host = rest if path_style else f"{bucket}.{rest}"
        raw_path = (f"/{bucket}" if path_style else "") + (f"/{key}" if key is not None else "")
        if not raw_path:
            raw_path = "/"
        size = rng.choice([0, 0, 1, 17, 1000, 65536, 5 << 20]) if i % 97 else 1 << 20
        if method in ("GET", "HEAD", "DELETE") and rng.random() < 0.8:
            size = 0
        seed = rng.randrange(256)
        body = (bytes((j + seed) & 255 for j in range(256)) * (size // 256 + 1))[:size]
        unsigned = rng.random() < 0.15
        # session tokens are base64 text (header values are ASCII: botocore
        # would also trim Unicode white space such as U+00A0, S3 does not)
        token = ("".join(rng.choice(TOKEN_ALPHABET) for _ in range(rng.randint(40, 400)))
                 if rng.random() < 0.4 else None)
        region = rng.choice(REGIONS)
        creds = Credentials("AKIDEXAMPLE" + str(i % 7), "secret/" + str(i) + "+Key=", token)
        query = rand_query(rng)
        headers = rand_headers(rng)
        url = f"{scheme}://{host}{quote(raw_path, safe='/~')}"
        req = AWSRequest(method=method, url=url, headers=dict(headers), data=body,
                         params=query)
        ctx = {}
        if unsigned:
            ctx["client_config"] = Config(s3={"payload_signing_enabled": False})
        req.context.update(ctx)
        ba.S3SigV4Auth(creds, "s3", region).add_auth(req)
        print(json.dumps({
            "method": method, "endpoint": endpoint, "bucket": bucket,
            "path_style": path_style, "path": raw_path, "query": query,
            "headers": headers, "body_len": size, "body_seed": seed,
            "unsigned": unsigned, "region": region, "access_key": creds.access_key,
            "secret_key": creds.secret_key, "token": token,
            "expect_host": ba._host_from_url(url),
            "expect_date": req.headers["X-Amz-Date"],
            "expect_sha256": req.headers["X-Amz-Content-SHA256"],
            "expect_auth": req.headers["Authorization"],
        }, ensure_ascii=False))


if __name__ == "__main__":
    main()
