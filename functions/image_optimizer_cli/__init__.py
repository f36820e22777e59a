"""`image-optimizer`: run the Lambda handler locally, as `sam local` would, without Docker."""
