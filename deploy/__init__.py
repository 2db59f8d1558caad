"""Building loadstar's Lambda deployment package: ``python -m deploy.package``."""
