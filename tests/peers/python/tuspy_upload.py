"""Uploads files with tuspy (a tus client written by others), with a checksum per chunk.

Usage: python tuspy_upload.py ENDPOINT TOKEN CHUNK_SIZE FILE... — prints "done <url>" per file.
"""
import hashlib
import os
import sys

from tusclient import client

endpoint, token, chunk_size, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
tus = client.TusClient(endpoint, headers={"Authorization": f"Bearer {token}"})
for path in files:
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    uploader = tus.uploader(
        file_path=path,
        chunk_size=chunk_size,
        upload_checksum=True,
        metadata={"filename": os.path.basename(path), "sha256": digest},
    )
    uploader.upload()
    print("done", uploader.url, flush=True)
