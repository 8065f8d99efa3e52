"""The bucket: the S3 client and its retries, object names, metadata, copies, retention tags,
rollback of a failed run's writes, listing, the streamed multipart upload, the signed manifests."""
