"""Image optimizer: an on-the-fly image resizer and converter for AWS Lambda."""

__version__ = "0.1.0"
SERVICE_NAME = "image-optimizer"
