"""Audio in: decoding (local and s3://), corpus adapters and the built-in corpus, manifests,
storage URLs, augmentations and the paired views training consumes."""
