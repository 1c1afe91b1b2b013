#!/usr/bin/python3
"""
tests/objstore/boto3_peer.py — boto3 as an independent S3 client for
test_objstore_s3: reads back what AkiDB wrote and writes what AkiDB must
read (s3rver credentials S3RVER/S3RVER, path-style addressing, SigV4).

  boto3_peer.py ENDPOINT BUCKET get KEY FILE   download KEY into FILE
  boto3_peer.py ENDPOINT BUCKET put KEY FILE   upload FILE as KEY (multipart
                                               above 8 MiB, boto3's default)
  boto3_peer.py ENDPOINT BUCKET head KEY       print the size and ETag
Exit status 0 on success.
"""
import sys

import boto3
from botocore.config import Config


def main():
    endpoint, bucket, action, key = sys.argv[1:5]
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="S3RVER",
                      aws_secret_access_key="S3RVER", region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                    retries={"max_attempts": 1}))
    if action == "get":
        s3.download_file(bucket, key, sys.argv[5])
    elif action == "put":
        s3.upload_file(sys.argv[5], bucket, key)
    elif action == "head":
        h = s3.head_object(Bucket=bucket, Key=key)
        print(h["ContentLength"], h["ETag"].strip('"'))
    else:
        sys.exit(f"unknown action {action}")


if __name__ == "__main__":
    main()
